"""Billing of runs cut short: a client that opens a streamed run and goes away
after a few events is charged what the model consumed (prompt + the tokens
generated until the server saw the socket close), the run is recorded as
cancelled, /metrics counts it. On a local model (OpenAI stream=true) and on
an upstream provider that streams until its client leaves (run-agent.ai SSE).

The local model is made here by `agentd make-model` with a long context, so
a run of max_tokens takes seconds while the server notices a closed socket
at its next write: the run always ends far short of max_tokens."""

import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import unittest

from harness import AGENTD_BIN, TESTDATA, ServerTestCase, Upstream

VOCAB = os.path.join(TESTDATA, "vocab", "ggml-vocab-llama-spm.gguf")
MAX_TOKENS = 4000


def open_stream(srv, path, body, key):
    """Sends a streamed request on a raw socket; returns the socket."""
    data = json.dumps(body).encode()
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=60)
    s.sendall((f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n").encode() + data)
    return s


def read_until(s, marker, count):
    """Reads until `marker` was seen `count` times; returns what was read."""
    got = b""
    while got.count(marker) < count:
        part = s.recv(4096)
        if not part:
            raise AssertionError("the stream ended early:\n" + got.decode("utf-8", "replace"))
        got += part
    return got


def hang_up(s):
    """Closes with a reset (linger 0), as a client that crashed or gave up."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


class CancelledRunTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="agentd-cancel-")
        model = os.path.join(cls.dir, "long.gguf")
        subprocess.run([AGENTD_BIN, "make-model", "--out", model, "--dim", "128", "--layers", "4", "--heads", "4",
                        "--kv-heads", "2", "--ffn", "256", "--vocab-from", VOCAB, "--type", "Q8_0",
                        "--context-length", "4096", "--seed", "1", "--threads", "1"],
                       check=True, stdout=subprocess.DEVNULL)
        cls.upstream = Upstream()
        cls.server_kwargs = {"models": [
            {"id": "long", "name": "Long", "backend": "local", "path": model, "context": 4096, "threads": 1,
             "price_input_per_mtok": 10.0, "price_output_per_mtok": 20.0},
            cls.upstream.model("drip-up", "drip", timeout_s=60),
        ]}

    @classmethod
    def tearDownClass(cls):
        cls.upstream.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def credits(self):
        return json.loads(self.srv.cli("org", "show", "acme").stdout)["credits"]

    def recorded_usage(self, key):
        """The organization's usage once the run is recorded."""
        deadline = time.time() + 30
        while True:
            usage = self.srv.get("/api/v3/agents/usage/", key=key).json()["data"]
            if usage["totalUsage"] >= 1:
                return usage
            self.assertLess(time.time(), deadline, "the cut run was never recorded")
            time.sleep(0.02)

    def check_local_stream_cut_is_charged_what_was_generated(self):
        self.srv.create_org("acme", credits=5)
        key = self.srv.create_key("acme")
        r = self.srv.post("/api/v3/agents/create",
                          {"agent_name": "talker", "model": "long", "max_tokens": MAX_TOKENS, "temperature": 0.0,
                           "instructions": "Tell a long story."}, key=key)
        self.assertEqual(r.status, 200, r)
        before = self.credits()
        s = open_stream(self.srv, "/v1/chat/completions",
                        {"model": "talker", "stream": True, "max_tokens": MAX_TOKENS,
                         "messages": [{"role": "user", "content": "Once upon a time"}]}, key)
        # The role chunk, then three chunks of text.
        got = read_until(s, b"data: ", 4)
        self.assertIn(b" 200 ", got.split(b"\r\n", 1)[0])
        hang_up(s)

        usage = self.recorded_usage(key)
        self.assertEqual(usage["totalUsage"], 1)
        m = usage["usageByModel"]["long"]
        self.assertGreater(m["input_tokens"], 0)
        self.assertGreaterEqual(m["output_tokens"], 3)
        self.assertLess(m["output_tokens"], MAX_TOKENS)
        # 10 and 20 USD per million tokens.
        self.assertAlmostEqual(m["cost"], (m["input_tokens"] * 10 + m["output_tokens"] * 20) / 1e6, places=12)
        self.assertAlmostEqual(before - self.credits(), m["cost"], places=9)
        metrics = self.srv.get("/metrics").text
        self.assertIn('agentd_runs_total{endpoint="openai.chat",outcome="cancelled"} 1', metrics)
        self.assertIn(f'agentd_tokens_total{{direction="out",model="long"}} {m["output_tokens"]}\n', metrics)

    def check_upstream_stream_cut_is_charged_what_was_streamed(self):
        self.srv.create_org("acme", credits=5)
        key = self.srv.create_key("acme")
        r = self.srv.post("/v1/agents", {"name": "Dripper", "model": "drip-up", "instructions": "",
                                         "parameters": {"temperature": 0.0, "max_tokens": 500}}, key=key)
        self.assertIn(r.status, (200, 201), r)
        agent_id = (r.json().get("data") or r.json())["id"]
        before = self.credits()
        s = open_stream(self.srv, f"/v1/agents/{agent_id}/stream", {"query": "Go on"}, key)
        read_until(s, b"event: chunk", 3)
        hang_up(s)

        usage = self.recorded_usage(key)
        m = usage["usageByModel"]["drip-up"]
        self.assertGreater(m["input_tokens"], 0)
        # "tick " per chunk, estimated at 4 characters a token: at least 3 chunks.
        self.assertGreaterEqual(m["output_tokens"], 4)
        self.assertGreater(m["cost"], 0)
        self.assertAlmostEqual(before - self.credits(), m["cost"], places=9)
        self.assertIn('agentd_runs_total{endpoint="runagent.stream",outcome="cancelled"} 1',
                      self.srv.get("/metrics").text)

    def check_nugen_stream_cut_is_charged_what_was_streamed(self):
        # A Nugen client streaming a run by name ("stream": true) that goes away.
        self.srv.create_org("acme", credits=5)
        key = self.srv.create_key("acme")
        r = self.srv.post("/api/v3/agents/create/", {"agent_name": "Dripper", "model": "drip-up", "max_tokens": 500,
                                                     "temperature": 0.0}, key=key)
        self.assertEqual(r.status, 200, r)
        before = self.credits()
        s = open_stream(self.srv, "/api/v3/agents/run-agents/dripper/run/", {"message": "Go on", "stream": True}, key)
        got = read_until(s, b'"text"', 3)
        self.assertIn(b" 200 ", got.split(b"\r\n", 1)[0])
        hang_up(s)

        usage = self.recorded_usage(key)
        m = usage["usageByModel"]["drip-up"]
        self.assertGreater(m["input_tokens"], 0)
        self.assertGreaterEqual(m["output_tokens"], 4)  # "tick " x 3 at 4 characters a token
        self.assertGreater(m["cost"], 0)
        self.assertAlmostEqual(before - self.credits(), m["cost"], places=9)
        self.assertIn('agentd_runs_total{endpoint="nugen.run",outcome="cancelled"} 1', self.srv.get("/metrics").text)


if __name__ == "__main__":
    unittest.main()
