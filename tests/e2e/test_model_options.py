"""[[models]] keys of the model backends (threads, queue_depth, parallel,
cache_bytes, connect_timeout_s, timeout_s, max_retries): bad values are
named by key, good ones start the server."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

import harness
from harness import AGENTD_BIN, TINY_Q8, Server


class ModelOptionsTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="agentd-modelopt-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def run_serve(self, model_lines):
        path = os.path.join(self.dir, "agentd.toml")
        db = "sqlite://" + os.path.join(self.dir, "a.db")
        with open(path, "w") as f:
            f.write(f'[server]\nlisten = "127.0.0.1:{harness.free_port()}"\n[storage]\nurl = {json.dumps(db)}\n'
                    f'[[models]]\nid = "m"\npath = {json.dumps(TINY_Q8)}\n{model_lines}\n')
        return subprocess.run([AGENTD_BIN, "serve", "--config", path], capture_output=True, text=True, timeout=30)

    def test_bad_values_are_named(self):
        cases = [
            ("threads = -1", "models[0].threads"),
            ('threads = "many"', "models[0].threads"),
            ("queue_depth = -1", "models[0].queue_depth"),
            ("parallel = 0", "models[0].parallel"),
            ("cache_bytes = -5", "models[0].cache_bytes"),
            ("share_prefixes = 1", "models[0].share_prefixes"),
            ("connect_timeout_s = 0", "models[0].connect_timeout_s"),
            ('timeout_s = "long"', "models[0].timeout_s"),
            ("max_retries = -1", "models[0].max_retries"),
        ]
        for line, key in cases:
            p = self.run_serve(line)
            self.assertNotEqual(p.returncode, 0, line)
            self.assertIn(key, p.stderr, line)

    def test_all_keys_accepted(self):
        models = [dict(harness.DEFAULT_MODELS[0], threads=1, queue_depth=4, parallel=2, cache_bytes=1 << 20,
                       share_prefixes=False),
                  {"id": "up", "backend": "openai", "base_url": "http://127.0.0.1:9/v1", "connect_timeout_s": 1,
                   "timeout_s": 2.5, "max_retries": 0}]
        with Server(models=models) as srv:
            self.assertEqual(srv.get("/healthz").status, 200)


if __name__ == "__main__":
    unittest.main()
