"""`agentd tokenize --model PATH [--add-special] TEXT` on the vocabulary-only
GGUF files of testdata/vocab: the printed JSON array must equal the reference
ids of NAME.gguf.out (Hugging Face tokenizers, no special tokens added)."""

import json
import os
import subprocess
import unittest

AGENTD_BIN = os.environ.get("AGENTD_BIN", "")
VOCAB = os.path.join(os.environ.get("AGENTD_TESTDATA_DIR", ""), "vocab")
SEP = "\n__ggml_vocab_test__\n"


def cases(name):
    """(text, ids) pairs of NAME, split as llama.cpp's test-tokenizer-0 does."""
    with open(os.path.join(VOCAB, f"ggml-vocab-{name}.gguf.inp"), "rb") as f:
        inp = f.read().decode("utf-8")
    with open(os.path.join(VOCAB, f"ggml-vocab-{name}.gguf.out"), encoding="utf-8") as f:
        out = f.read().split("\n")
    texts = inp.split(SEP)[:-1]  # every string is followed by the separator
    return [(t, [int(x) for x in out[i].split()]) for i, t in enumerate(texts)]


def tokenize(model, text, *flags):
    return subprocess.run([AGENTD_BIN, "tokenize", "--model", model, *flags, "--", text],
                          capture_output=True, timeout=60)


class TokenizeCliTest(unittest.TestCase):
    def setUp(self):
        self.assertTrue(AGENTD_BIN and os.path.exists(AGENTD_BIN), "AGENTD_BIN must name the agentd binary")

    def check_vocab(self, name, texts):
        model = os.path.join(VOCAB, f"ggml-vocab-{name}.gguf")
        ref = dict(cases(name))
        for text in texts:
            with self.subTest(vocab=name, text=text):
                r = tokenize(model, text)
                self.assertEqual(r.returncode, 0, r.stderr.decode())
                self.assertEqual(json.loads(r.stdout), ref[text])

    def test_reference_strings(self):
        # Different scripts, emoji, digits, whitespace runs, leading dashes.
        texts = ["    Hello\n    Hello",
                 "\u043d\u0435\u0449\u043e \u043d\u0430 \u0411\u044a\u043b\u0433\u0430\u0440\u0441\u043a\u0438",
                 "3333333", "Hello, y'all! How are you \U0001F601 ?\u6211\u60f3\u5728apple\u5de5\u4f5c1314151\u5929\uff5e"]
        for name in ["llama-spm", "gpt-2", "deepseek-llm", "bert-bge"]:
            self.check_vocab(name, texts)

    def test_strings_of_one_vocab(self):
        name = "starcoder"
        model = os.path.join(VOCAB, f"ggml-vocab-{name}.gguf")
        for text, ids in cases(name)[::6]:  # the C++ tests check all of them
            with self.subTest(text=text):
                r = tokenize(model, text)
                self.assertEqual(r.returncode, 0, r.stderr.decode())
                self.assertEqual(json.loads(r.stdout), ids)

    def test_add_special_prepends_bos_where_the_model_asks(self):
        spm = os.path.join(VOCAB, "ggml-vocab-llama-spm.gguf")
        ref = dict(cases("llama-spm"))
        r = tokenize(spm, "Hello world", "--add-special")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(json.loads(r.stdout), [1] + ref["Hello world"])
        # GPT-2 does not ask for a BOS.
        gpt2 = os.path.join(VOCAB, "ggml-vocab-gpt-2.gguf")
        r = tokenize(gpt2, "Hello world", "--add-special")
        self.assertEqual(json.loads(r.stdout), dict(cases("gpt-2"))["Hello world"])

    def test_special_tokens_only_with_parse_special(self):
        gpt2 = os.path.join(VOCAB, "ggml-vocab-gpt-2.gguf")
        hello = dict(cases("gpt-2"))["Hello world"]
        r = tokenize(gpt2, "Hello world<|endoftext|>", "--parse-special")
        self.assertEqual(json.loads(r.stdout), hello + [50256])
        r = tokenize(gpt2, "Hello world<|endoftext|>")
        self.assertNotIn(50256, json.loads(r.stdout))

    def test_errors_are_reported(self):
        r = tokenize(os.path.join(VOCAB, "no-such-file.gguf"), "x")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"no-such-file.gguf", r.stderr)
        r = subprocess.run([AGENTD_BIN, "tokenize", "hello"], capture_output=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)  # --model is required


if __name__ == "__main__":
    unittest.main()
