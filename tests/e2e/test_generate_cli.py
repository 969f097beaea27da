"""`agentd generate` end to end: the real binary on the shared models, checked
against llama.cpp's golden lines (testdata/models/*.golden.jsonl)."""

import json
import os
import subprocess
import unittest

BIN = os.environ.get("AGENTD_BIN", "agentd")
MODELS = os.path.join(os.environ.get("AGENTD_TESTDATA_DIR", "../../../shared/testdata"), "models")


def golden(name):
    with open(os.path.join(MODELS, name + ".golden.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def generate(*args, timeout=120):
    return subprocess.run([BIN, "generate", *args], capture_output=True, text=True, timeout=timeout)


class GenerateCliTest(unittest.TestCase):
    def test_prompt_ids_json_matches_golden(self):
        model = os.path.join(MODELS, "stories260K.gguf")
        for g in golden("stories260K")[:2]:
            ids = ",".join(str(i) for i in g["prompt_ids"])
            r = generate("--model", model, "--prompt-ids", ids, "--max-tokens", str(len(g["steps"])),
                         "--threads", "2", "--json")
            self.assertEqual(r.returncode, 0, r.stderr)
            out = json.loads(r.stdout)
            self.assertEqual(set(out), {"prompt_ids", "steps", "text", "finish"})
            self.assertIn(out["finish"], ("length", "eog"))
            self.assertEqual(out["prompt_ids"], g["prompt_ids"])
            self.assertEqual([s["id"] for s in out["steps"]], [s["id"] for s in g["steps"]])
            for mine, ref in zip(out["steps"], g["steps"]):
                # Near-ties may swap places; compare logits by token id.
                got = {tid: logit for tid, logit in mine["top5"]}
                common = [(tid, logit) for tid, logit in ref["top5"] if tid in got]
                self.assertGreaterEqual(len(common), 4)
                for tid, logit in common:
                    self.assertAlmostEqual(got[tid], logit, delta=0.02)
            self.assertIsInstance(out["text"], str)

    def test_prompt_text_adds_bos_like_llama_cpp(self):
        for name in ("stories260K", "tiny-random-Q8_0"):
            g = golden(name)[0]
            r = generate("--model", os.path.join(MODELS, name + ".gguf"), "--prompt", g["prompt"],
                         "--max-tokens", "4", "--json")
            self.assertEqual(r.returncode, 0, r.stderr)
            out = json.loads(r.stdout)
            self.assertEqual(out["prompt_ids"], g["prompt_ids"])
            self.assertEqual(out["steps"][0]["id"], g["steps"][0]["id"])

    def test_plain_output_is_the_text(self):
        model = os.path.join(MODELS, "stories260K.gguf")
        g = golden("stories260K")[0]
        j = generate("--model", model, "--prompt", g["prompt"], "--max-tokens", "8", "--json")
        t = generate("--model", model, "--prompt", g["prompt"], "--max-tokens", "8")
        self.assertEqual(j.returncode, 0, j.stderr)
        self.assertEqual(t.returncode, 0, t.stderr)
        self.assertEqual(t.stdout, json.loads(j.stdout)["text"] + "\n")

    def test_same_seed_same_output(self):
        model = os.path.join(MODELS, "stories260K.gguf")
        args = ("--model", model, "--prompt", "Hello", "--max-tokens", "16", "--temperature", "1.0",
                "--top-k", "40", "--json")
        a = generate(*args, "--seed", "7")
        b = generate(*args, "--seed", "7")
        self.assertEqual(a.returncode, 0, a.stderr)
        self.assertEqual(json.loads(a.stdout)["steps"], json.loads(b.stdout)["steps"])

    def test_stop_string_cuts_the_text(self):
        model = os.path.join(MODELS, "tiny-random-Q8_0.gguf")
        g = golden("tiny-random-Q8_0")[0]
        ids = ",".join(str(i) for i in g["prompt_ids"])
        full = generate("--model", model, "--prompt-ids", ids, "--max-tokens", "16", "--json")
        self.assertEqual(full.returncode, 0, full.stderr)
        text = json.loads(full.stdout)["text"]
        self.assertGreater(len(text), 12)
        stop = text[8:11]
        cut = generate("--model", model, "--prompt-ids", ids, "--max-tokens", "16", "--stop", stop, "--json")
        self.assertEqual(cut.returncode, 0, cut.stderr)
        out = json.loads(cut.stdout)
        self.assertEqual(out["text"], text[:text.find(stop)])
        self.assertNotIn(stop, out["text"])

    def test_errors_are_clean(self):
        model = os.path.join(MODELS, "stories260K.gguf")
        r = generate("--model", model, "--prompt-ids", ",".join(["1"] * 200))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("200", r.stderr)
        self.assertIn("128", r.stderr)
        r = generate("--model", model, "--prompt-ids", "1,abc")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("abc", r.stderr)
        r = generate("--model", os.path.join(MODELS, "missing.gguf"), "--prompt", "x")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("missing.gguf", r.stderr)
        r = generate("--model", model)
        self.assertNotEqual(r.returncode, 0)

    def test_agentd_isa_caps_the_kernels(self):
        model = os.path.join(MODELS, "tiny-random-Q8_0.gguf")
        bench = [BIN, "bench", "--model", model, "--prompt-tokens", "8", "--gen-tokens", "2", "--threads", "2", "--json"]
        for isa in ("scalar", "avx2"):
            r = subprocess.run(bench, capture_output=True, text=True, timeout=120, env={**os.environ, "AGENTD_ISA": isa})
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(json.loads(r.stdout)["isa"], isa)
        # The scalar kernels answer llama.cpp's greedy ids too.
        g = golden("stories260K")[0]
        r = subprocess.run([BIN, "generate", "--model", os.path.join(MODELS, "stories260K.gguf"), "--prompt-ids",
                            ",".join(str(i) for i in g["prompt_ids"]), "--max-tokens", "8", "--json"],
                           capture_output=True, text=True, timeout=120, env={**os.environ, "AGENTD_ISA": "scalar"})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([s["id"] for s in json.loads(r.stdout)["steps"]], [s["id"] for s in g["steps"][:8]])
        r = subprocess.run(bench, capture_output=True, text=True, timeout=120, env={**os.environ, "AGENTD_ISA": "avx9"})
        self.assertEqual(r.returncode, 2)
        self.assertIn("AGENTD_ISA=avx9", r.stderr)


if __name__ == "__main__":
    unittest.main()
