"""Structured output on the command line: `agentd generate --json-schema`
over the real-world schemas of schemas_for_tests.py, at temperature 1 on a
random-weight model (noise, so every valid answer is the grammar's doing),
with room to finish and within a tight max_tokens; each answer checked by
ajv (tests/e2e/node/validate_json.mjs), never by agentd's own code. The
server side is test_structured_output.py."""

import json
import os
import subprocess
import tempfile
import unittest

from harness import AGENTD_BIN
from schemas_for_tests import SCHEMAS
from test_structured_output import NODE_DIR, generate, random_model, validate


class GenerateCliTest(unittest.TestCase):
    def test_node_modules_present(self):
        self.assertTrue(os.path.isdir(os.path.join(NODE_DIR, "node_modules", "ajv")),
                        "ajv is missing: scripts/test.sh runs `npm ci` in tests/e2e/node")

    def test_every_answer_validates_at_temperature_one(self):
        for name, schema in SCHEMAS.items():
            with self.subTest(schema=name):
                out = generate(schema, runs=6, max_tokens=500, seed=100)
                self.assertEqual(len(out), 6)
                verdicts = validate(schema, [o["text"] for o in out])
                for o, (ok, err) in zip(out, verdicts):
                    self.assertTrue(ok, f"{name}: {err}: {o['text']!r}")
                    self.assertIn(o["finish"], ("stop", "eog", "length"))
                # With room to spare the grammar, not the budget, ends the answer.
                self.assertTrue(any(o["finish"] == "stop" for o in out), name)

    def test_tight_budget_still_ends_valid(self):
        # Budgets a little above the fewest tokens the shortest answer takes:
        # the engine must steer to a complete answer in the tokens left.
        budgets = {"person": 24, "classification": 24, "tree": 12, "event_union": 48, "tags_unique": 20,
                   "tuple_2020": 28, "draft07_tuple": 16, "open_map": 12, "all_of": 28, "one_of_numbers": 12,
                   "invoice": 110, "anything": 4}
        for name, budget in budgets.items():
            with self.subTest(schema=name, max_tokens=budget):
                out = generate(SCHEMAS[name], runs=5, max_tokens=budget, seed=7)
                verdicts = validate(SCHEMAS[name], [o["text"] for o in out])
                for o, (ok, err) in zip(out, verdicts):
                    self.assertLessEqual(len(o["steps"]), budget)
                    self.assertTrue(ok, f"{name} within {budget} tokens: {err}: {o['text']!r}")

    def test_refused_schema_names_the_keyword(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"type": "object", "properties": {"n": {"type": "integer", "multipleOf": 5}}}, f)
            path = f.name
        try:
            p = subprocess.run([AGENTD_BIN, "generate", "-m", random_model(), "-p", "x", "--json-schema", path],
                               capture_output=True, text=True, timeout=60)
        finally:
            os.unlink(path)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("multipleOf", p.stderr)
        self.assertIn("#/properties/n", p.stderr)


if __name__ == "__main__":
    unittest.main()
