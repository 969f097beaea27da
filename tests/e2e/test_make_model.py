"""`agentd make-model` and `agentd bench` on the command line.

make-model writes a random-weight Llama GGUF: checked here by reading the files
back with a small GGUF parser of our own (below) against
- the vocabulary file they copy (every tokenizer.* key, byte for byte),
- the tensor types llama.cpp's llama-quantize chose for the shipped
  tiny-random-{F16,Q8_0,Q4_0,Q4_K_M}.gguf (same shape, made again here),
- llama.cpp's Q4_K_M rules on an odd shape (dim 64, ffn 96) where every
  K-quant falls back (Q4_K -> Q5_0, Q6_K -> Q8_0);
and by running `agentd generate` on every type (finite logits that track the
F32 model made from the same seed). bench must print its JSON figures.
"""

import json
import math
import os
import shutil
import struct
import subprocess
import tempfile
import unittest

AGENTD_BIN = os.environ.get("AGENTD_BIN", "")
TESTDATA = os.environ.get("AGENTD_TESTDATA_DIR", "")
VOCAB = os.path.join(TESTDATA, "vocab", "ggml-vocab-llama-spm.gguf")
MODELS = os.path.join(TESTDATA, "models")

TYPES = ["F32", "F16", "Q8_0", "Q4_0", "Q5_0", "Q4_K_M"]
FILE_TYPE = {"F32": 0, "F16": 1, "Q4_0": 2, "Q8_0": 7, "Q5_0": 8, "Q4_K_M": 15}
# ggml type numbers
F32, F16, Q4_0, Q5_0, Q8_0, Q4_K, Q6_K = 0, 1, 2, 6, 8, 12, 14
# ggml block size and bytes per block, by type number
BLOCK = {F32: (1, 4), F16: (1, 2), Q4_0: (32, 18), Q5_0: (32, 22), Q8_0: (32, 34), Q4_K: (256, 144),
         Q6_K: (256, 210)}
SMALL = ["--dim", "64", "--layers", "2", "--heads", "4", "--kv-heads", "2", "--ffn", "96"]


class Gguf:
    """The header of a GGUF v2/v3 file: metadata {key: (type, value)} in file
    order and tensors [(name, dims, type, offset)], plus the data start."""

    SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q",
               12: "<d"}

    def __init__(self, path):
        with open(path, "rb") as f:
            self.data = f.read()
        self.pos = 0
        assert self.data[:4] == b"GGUF", path
        self.pos = 4
        self.version = self.read("<I")
        n_tensors, n_kv = self.read("<Q"), self.read("<Q")
        self.kv = {}
        for _ in range(n_kv):
            key = self.string().decode()
            t = self.read("<I")
            self.kv[key] = (t, self.value(t))
        self.tensors = []
        for _ in range(n_tensors):
            name = self.string().decode()
            n_dims = self.read("<I")
            dims = [self.read("<Q") for _ in range(n_dims)]
            self.tensors.append((name, dims, self.read("<I"), self.read("<Q")))
        align = self.kv.get("general.alignment", (4, 32))[1]
        self.alignment = align
        self.data_start = (self.pos + align - 1) // align * align
        self.size = len(self.data)

    def read(self, fmt):
        v = struct.unpack_from(fmt, self.data, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return v

    def string(self):
        n = self.read("<Q")
        s = self.data[self.pos:self.pos + n]
        self.pos += n
        return s

    def value(self, t):
        if t == 8:
            return self.string()
        if t == 9:
            et, n = self.read("<I"), self.read("<Q")
            return (et, [self.value(et) for _ in range(n)])
        return self.read(self.SCALARS[t])

    def types(self):
        return {name: t for name, _, t, _ in self.tensors}


def agentd(*args, timeout=120):
    return subprocess.run([AGENTD_BIN, *args], capture_output=True, timeout=timeout)


class MakeModelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        assert AGENTD_BIN and os.path.exists(AGENTD_BIN), "AGENTD_BIN must name the agentd binary"
        cls.dir = tempfile.mkdtemp(prefix="make_model_")
        cls.small = {}
        for t in TYPES:
            path = os.path.join(cls.dir, f"small-{t}.gguf")
            r = agentd("make-model", "--out", path, *SMALL, "--vocab-from", VOCAB, "--type", t, "--seed", "7")
            assert r.returncode == 0, r.stderr.decode()
            cls.small[t] = path

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def make(self, name, *args):
        path = os.path.join(self.dir, name)
        r = agentd("make-model", "--out", path, *args)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        return path

    def test_metadata_is_what_llama_cpp_reads(self):
        for t in TYPES:
            with self.subTest(type=t):
                g = Gguf(self.small[t])
                self.assertEqual(g.version, 3)
                kv = g.kv
                self.assertEqual(kv["general.architecture"], (8, b"llama"))
                self.assertEqual(kv["general.alignment"], (4, 32))
                self.assertEqual(kv["general.file_type"], (4, FILE_TYPE[t]))
                self.assertEqual(kv["llama.embedding_length"], (4, 64))
                self.assertEqual(kv["llama.block_count"], (4, 2))
                self.assertEqual(kv["llama.feed_forward_length"], (4, 96))
                self.assertEqual(kv["llama.attention.head_count"], (4, 4))
                self.assertEqual(kv["llama.attention.head_count_kv"], (4, 2))
                self.assertEqual(kv["llama.rope.dimension_count"], (4, 16))
                self.assertEqual(kv["llama.vocab_size"], (4, 32000))
                self.assertEqual(kv["llama.context_length"][0], 4)
                self.assertEqual(kv["llama.rope.freq_base"], (6, 10000.0))
                self.assertAlmostEqual(kv["llama.attention.layer_norm_rms_epsilon"][1], 1e-5, places=9)
                self.assertEqual(kv["llama.attention.layer_norm_rms_epsilon"][0], 6)
                self.assertIn("general.name", kv)
                if t in ("F32", "F16"):
                    self.assertNotIn("general.quantization_version", kv)
                else:
                    self.assertEqual(kv["general.quantization_version"], (4, 2))

    def test_tokenizer_is_copied_from_the_vocabulary_file(self):
        ref = {k: v for k, v in Gguf(VOCAB).kv.items() if k.startswith("tokenizer.")}
        self.assertGreaterEqual(len(ref), 8)
        got = {k: v for k, v in Gguf(self.small["Q8_0"]).kv.items() if k.startswith("tokenizer.")}
        self.assertEqual(got, ref)  # same keys, same value types, same values

    def test_tensors_have_ggml_shapes_and_aligned_data(self):
        for t in TYPES:
            with self.subTest(type=t):
                g = Gguf(self.small[t])
                dims = {name: d for name, d, _, _ in g.tensors}
                self.assertEqual(len(g.tensors), 3 + 2 * 9)
                self.assertEqual(dims["token_embd.weight"], [64, 32000])
                self.assertEqual(dims["output.weight"], [64, 32000])
                self.assertEqual(dims["output_norm.weight"], [64])
                for layer in range(2):
                    p = f"blk.{layer}."
                    self.assertEqual(dims[p + "attn_q.weight"], [64, 64])
                    self.assertEqual(dims[p + "attn_k.weight"], [64, 32])
                    self.assertEqual(dims[p + "attn_v.weight"], [64, 32])
                    self.assertEqual(dims[p + "attn_output.weight"], [64, 64])
                    self.assertEqual(dims[p + "ffn_gate.weight"], [64, 96])
                    self.assertEqual(dims[p + "ffn_up.weight"], [64, 96])
                    self.assertEqual(dims[p + "ffn_down.weight"], [96, 64])
                    self.assertEqual(dims[p + "attn_norm.weight"], [64])
                    self.assertEqual(dims[p + "ffn_norm.weight"], [64])
                self.assertEqual(g.data_start % 32, 0)
                end = 0
                for name, d, ty, off in g.tensors:
                    self.assertEqual(off % 32, 0, name)
                    self.assertGreaterEqual(off, end, name)  # no overlap
                    block, size = BLOCK[ty]
                    n = math.prod(d)
                    self.assertEqual(d[0] % block, 0, name)
                    end = off + n // block * size
                    if len(d) == 1:
                        self.assertEqual(ty, F32, name)  # norms stay F32
                self.assertLessEqual(g.data_start + end, g.size)

    def test_q4_k_m_on_an_odd_shape_uses_llama_cpp_fallbacks(self):
        # llama-quant.cpp: Q4_K everywhere, Q6_K for attn_v/ffn_down where
        # use_more_bits(layer, 2) (layer 1), output Q8_0 (64 % 256 != 0); no row
        # here is a multiple of 256, so Q4_K -> Q5_0 and Q6_K -> Q8_0.
        types = Gguf(self.small["Q4_K_M"]).types()
        expected = {"output.weight": Q8_0, "output_norm.weight": F32, "token_embd.weight": Q5_0}
        for layer in range(2):
            for n in ["attn_q", "attn_k", "attn_output", "ffn_gate", "ffn_up"]:
                expected[f"blk.{layer}.{n}.weight"] = Q5_0
            for n in ["attn_norm", "ffn_norm"]:
                expected[f"blk.{layer}.{n}.weight"] = F32
            more_bits = layer == 1
            expected[f"blk.{layer}.attn_v.weight"] = Q8_0 if more_bits else Q5_0
            expected[f"blk.{layer}.ffn_down.weight"] = Q8_0 if more_bits else Q5_0
        self.assertEqual(types, expected)

    def test_tensor_types_match_the_shipped_llama_cpp_files(self):
        # The shipped tiny-random files were quantized by llama.cpp; the same
        # shape made here must get the same type for every tensor.
        shape = ["--dim", "256", "--layers", "4", "--heads", "8", "--kv-heads", "2", "--ffn", "768",
                 "--context-length", "128"]
        for t in ["F16", "Q8_0", "Q4_0", "Q4_K_M"]:
            with self.subTest(type=t):
                path = self.make(f"tiny-{t}.gguf", *shape, "--vocab-from", VOCAB, "--type", t)
                ours, ref = Gguf(path), Gguf(os.path.join(MODELS, f"tiny-random-{t}.gguf"))
                self.assertEqual(ours.types(), ref.types())
                self.assertEqual([(n, d, ty) for n, d, ty, _ in ours.tensors],
                                 [(n, d, ty) for n, d, ty, _ in ref.tensors])  # same order too
                for key in ["general.file_type", "llama.context_length", "llama.embedding_length",
                            "llama.feed_forward_length", "llama.attention.head_count",
                            "llama.attention.head_count_kv", "llama.block_count", "llama.rope.dimension_count"]:
                    self.assertEqual(ours.kv[key], ref.kv[key], key)
                os.remove(path)

    def test_generate_runs_on_every_type_with_finite_logits(self):
        prompt = "1,450,4996,29871,13"
        top = {}
        for t in TYPES:
            with self.subTest(type=t):
                r = agentd("generate", "--model", self.small[t], "--prompt-ids", prompt, "--max-tokens", "3",
                           "--json")
                self.assertEqual(r.returncode, 0, r.stderr.decode())
                out = json.loads(r.stdout)
                self.assertEqual(out["prompt_ids"], [1, 450, 4996, 29871, 13])
                self.assertEqual(len(out["steps"]), 3)
                for step in out["steps"]:
                    self.assertEqual(len(step["top5"]), 5)
                    for tok, logit in step["top5"]:
                        self.assertTrue(0 <= tok < 32000)
                        self.assertTrue(math.isfinite(logit), (t, logit))
                top[t] = dict(map(tuple, out["steps"][0]["top5"]))
        # Same seed, same weights before encoding: the F32 model's best token
        # stays near the top in every encoding, its logit close.
        best, logit = max(top["F32"].items(), key=lambda kv: kv[1])
        tolerance = {"F16": 1e-3, "Q8_0": 0.01, "Q5_0": 0.05, "Q4_K_M": 0.05, "Q4_0": 0.08}
        for t, tol in tolerance.items():
            with self.subTest(type=t):
                self.assertIn(best, top[t])
                self.assertAlmostEqual(top[t][best], logit, delta=tol)

    def test_same_seed_same_file_whatever_the_threads(self):
        args = [*SMALL, "--vocab-from", VOCAB, "--type", "Q4_K_M", "--seed", "7"]
        one = self.make("t1.gguf", *args, "--threads", "1")
        two = self.make("t2.gguf", *args, "--threads", "2")
        other = self.make("t3.gguf", *SMALL, "--vocab-from", VOCAB, "--type", "Q4_K_M", "--seed", "8")
        with open(one, "rb") as a, open(two, "rb") as b, open(self.small["Q4_K_M"], "rb") as c, \
                open(other, "rb") as d:
            x, y, z, w = a.read(), b.read(), c.read(), d.read()
        self.assertEqual(x, y)
        self.assertEqual(x, z)
        self.assertEqual(len(w), len(x))
        self.assertNotEqual(w, x)

    def test_bad_shapes_and_inputs_are_refused(self):
        out = os.path.join(self.dir, "bad.gguf")
        base = ["make-model", "--out", out, "--layers", "1", "--vocab-from", VOCAB]
        cases = [
            (["--dim", "64", "--heads", "3", "--kv-heads", "1", "--ffn", "96", "--type", "F32"], "multiple of --heads"),
            (["--dim", "64", "--heads", "4", "--kv-heads", "3", "--ffn", "96", "--type", "F32"], "--kv-heads"),
            (["--dim", "48", "--heads", "4", "--kv-heads", "2", "--ffn", "96", "--type", "Q4_0"], "multiples of 32"),
            (["--dim", "64", "--heads", "4", "--kv-heads", "2", "--ffn", "100", "--type", "Q8_0"], "multiples of 32"),
            (["--dim", "64", "--heads", "4", "--kv-heads", "2", "--ffn", "96", "--type", "Q3_K"], "is not one of"),
        ]
        for extra, message in cases:
            with self.subTest(args=extra):
                r = agentd(*base, *extra)
                self.assertNotEqual(r.returncode, 0)
                self.assertIn(message, r.stderr.decode())
                self.assertFalse(os.path.exists(out))
        r = agentd("make-model", "--out", out, *SMALL, "--vocab-from", os.path.join(self.dir, "none.gguf"),
                   "--type", "F32")
        self.assertNotEqual(r.returncode, 0)
        self.assertFalse(os.path.exists(out))
        # F32 and F16 take any even head size.
        path = self.make("odd.gguf", "--dim", "60", "--layers", "1", "--heads", "5", "--kv-heads", "1", "--ffn",
                         "70", "--vocab-from", VOCAB, "--type", "F16")
        self.assertEqual(Gguf(path).types()["blk.0.ffn_down.weight"], F16)


class BenchTest(unittest.TestCase):
    def test_json_figures(self):
        model = os.path.join(MODELS, "stories260K.gguf")
        r = agentd("bench", "--model", model, "--threads", "2", "--prompt-tokens", "16", "--gen-tokens", "4",
                   "--batch", "3", "--json")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        out = json.loads(r.stdout)
        self.assertEqual(out["batch"], 3)
        self.assertEqual(out["threads"], 2)
        self.assertEqual(out["prompt_tokens"], 16)
        self.assertEqual(out["gen_tokens"], 4)
        for key in ["pp_tokens_per_s", "tg_tokens_per_s", "single_tg_tokens_per_s"]:
            self.assertTrue(math.isfinite(out[key]) and out[key] > 0, (key, out[key]))
        # The speedup is the batch's tg over the one-sequence tg of the same run.
        self.assertAlmostEqual(out["batch_speedup"], out["tg_tokens_per_s"] / out["single_tg_tokens_per_s"], places=9)
        # The process mapped and read the whole model file at least.
        self.assertGreater(out["rss_bytes"], os.path.getsize(model))
        # One sequence has no baseline of its own to report.
        r = agentd("bench", "--model", model, "--prompt-tokens", "8", "--gen-tokens", "2", "--json")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        out = json.loads(r.stdout)
        self.assertNotIn("batch_speedup", out)
        self.assertNotIn("single_tg_tokens_per_s", out)

    def test_isa_choice(self):
        model = os.path.join(MODELS, "stories260K.gguf")
        for isa in ["scalar", "avx2"]:  # CI machines have AVX2 (kernels_test asserts it)
            r = agentd("bench", "--model", model, "--prompt-tokens", "8", "--gen-tokens", "2", "--isa", isa, "--json")
            self.assertEqual(r.returncode, 0, r.stderr.decode())
            self.assertEqual(json.loads(r.stdout)["isa"], isa)
        r = agentd("bench", "--model", model, "--isa", "sse9")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("--isa", r.stderr.decode())

    def test_table_and_context_limit(self):
        model = os.path.join(MODELS, "stories260K.gguf")
        r = agentd("bench", "--model", model, "--prompt-tokens", "8", "--gen-tokens", "2")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        text = r.stdout.decode()
        self.assertIn("pp8", text)
        self.assertIn("tg2", text)
        r = agentd("bench", "--model", model, "--prompt-tokens", "8", "--gen-tokens", "2", "--batch", "2")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertIn("2 sequences together:", r.stdout.decode())
        # stories260K was trained for 128 positions: 128 + 64 do not fit.
        r = agentd("bench", "--model", model, "--json")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("context length 128", r.stderr.decode())


if __name__ == "__main__":
    unittest.main()
