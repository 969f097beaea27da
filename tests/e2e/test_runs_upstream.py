"""An OpenAI-compatible upstream provider: a second agentd serves its
/v1/chat/completions as the upstream of the first (model backend "openai").
Working (the answer is the upstream agent's), slow (an upstream that takes
the request and never answers, timeout_s 1: the dialect's error says it timed
out) and down (a closed port: the error says the upstream is unreachable)."""

import json
import math
import unittest

from harness import STORIES, Server, Upstream, free_port

UPSTREAM_MODELS = [
    {"id": "stories", "name": "Stories 260K", "backend": "local", "path": STORIES,
     "context": 128, "price_input_per_mtok": 1.0, "price_output_per_mtok": 2.0},
]


def upstream_model(port, agent, **extra):
    m = {"id": "up", "name": "Upstream", "backend": "openai", "base_url": f"http://127.0.0.1:{port}/v1",
         "api_key_env": "AGENTD_UPSTREAM_KEY", "upstream_model": agent, "context": 2048,
         "price_input_per_mtok": 1.0, "price_output_per_mtok": 2.0, "max_retries": 0}
    m.update(extra)
    return m


def tenant_agent(srv, max_tokens=8):
    srv.create_org("acme", credits=5)
    key = srv.create_key("acme")
    r = srv.post("/v1/agents", {"name": "Front", "model": "up", "instructions": "",
                                "parameters": {"temperature": 0.0, "max_tokens": max_tokens}}, key=key)
    assert r.status in (200, 201), r
    return key, (r.json().get("data") or r.json())["id"]


class UpstreamTest(unittest.TestCase):
    def setUp(self):
        self.up = Server(models=UPSTREAM_MODELS).start()
        self.addCleanup(self.up.cleanup)
        self.up.create_org("provider", credits=5)
        self.up_key = self.up.create_key("provider")
        for name, model, max_tokens in (("story_teller", "stories", 8),):
            r = self.up.post("/api/v3/agents/create", {"agent_name": name, "model": model, "max_tokens": max_tokens,
                                                       "temperature": 0.0, "instructions": "Be brief."},
                             key=self.up_key)
            self.assertEqual(r.status, 200, r)

    def front(self, model):
        srv = Server(models=[model], env={"AGENTD_UPSTREAM_KEY": self.up_key}).start()
        self.addCleanup(srv.cleanup)
        return srv

    def test_working(self):
        direct = self.up.post("/v1/chat/completions", {"model": "story_teller", "temperature": 0,
                                                       "messages": [{"role": "user", "content": "Once upon a time"}]},
                              key=self.up_key)
        self.assertEqual(direct.status, 200, direct)
        srv = self.front(upstream_model(self.up.port, "story_teller"))
        key, agent_id = tenant_agent(srv)
        r = srv.post(f"/v1/agents/{agent_id}/invoke", {"query": "Once upon a time"}, key=key)
        self.assertEqual(r.status, 200, r)
        out = r.json()
        self.assertEqual(out["result"]["answer"], direct.json()["choices"][0]["message"]["content"])
        u = out["usage"]
        self.assertEqual(u["completion_tokens"], direct.json()["usage"]["completion_tokens"])
        self.assertEqual(u["total_tokens"], u["prompt_tokens"] + u["completion_tokens"])
        # The upstream's organization paid for the upstream run.
        usage = self.up.get("/api/v3/agents/usage/", key=self.up_key).json()["data"]
        self.assertEqual(usage["totalUsage"], 2)

    def test_slow(self):
        # An upstream that accepts the request and never answers while the
        # test runs: the 1 s total timeout always fires first.
        hang = Upstream()
        self.addCleanup(hang.stop)
        srv = self.front(hang.model("up", "hang", timeout_s=1.0))
        key, agent_id = tenant_agent(srv, max_tokens=70)
        before = srv.cli("org", "show", "acme").stdout
        r = srv.post(f"/v1/agents/{agent_id}/invoke", {"query": "Write a long story"}, key=key)
        self.assertEqual(r.status, 504, r)
        self.assertIn("upstream timed out after 1.0 s", r.json()["error"]["message"])
        self.assertEqual(r.json()["error"]["code"], "TIMEOUT")
        r = srv.post("/api/v3/agents/run-agents/front/run", {"message": "Write a long story"}, key=key)
        self.assertEqual(r.status, 504, r)
        self.assertIn("timed out", r.json()["detail"])
        # The upstream was asked (it did not refuse the connection), and the
        # timed-out runs cost nothing.
        self.assertEqual([s[0] for s in hang.seen()], ["hang", "hang"])
        self.assertEqual(srv.cli("org", "show", "acme").stdout, before)

    def test_confidence_from_upstream_logprobs(self):
        # The provider's token logprobs -0.5, -1.0, -1.5: geometric-mean probability e^-1.
        up = Upstream()
        self.addCleanup(up.stop)
        srv = self.front(up.model("up", "ok"))
        key, agent_id = tenant_agent(srv)
        r = srv.post(f"/v1/agents/{agent_id}/invoke", {"query": "Hi"}, key=key)
        self.assertEqual(r.status, 200, r)
        out = r.json()
        self.assertEqual(out["result"]["answer"], "Hello world")
        self.assertAlmostEqual(out["result"]["confidence"], math.exp(-1.0), places=9)
        # The provider's own usage counts are the run's.
        self.assertEqual(out["usage"], {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14})
        # Without logprobs there is no figure: null, not a made-up one.
        srv2 = self.front(up.model("up", "plain"))
        key2, agent2 = tenant_agent(srv2)
        r = srv2.post(f"/v1/agents/{agent2}/invoke", {"query": "Hi"}, key=key2)
        self.assertEqual(r.status, 200, r)
        self.assertIsNone(r.json()["result"]["confidence"])

    def test_inference_failure_in_every_dialect(self):
        # An upstream whose stream is not JSON: a 500 in each dialect's shape,
        # the run recorded as failed, nothing charged.
        up = Upstream()
        self.addCleanup(up.stop)
        srv = self.front(up.model("up", "malformed"))
        key, agent_id = tenant_agent(srv)
        before = srv.cli("org", "show", "acme").stdout
        r = srv.post("/api/v3/agents/run-agents/front/run", {"message": "Hi"}, key=key)
        self.assertEqual(r.status, 500, r)
        self.assertIn("malformed", r.json()["detail"])
        r = srv.post(f"/v1/agents/{agent_id}/invoke", {"query": "Hi"}, key=key)
        self.assertEqual(r.status, 500, r)
        self.assertEqual(r.json()["error"]["code"], "INTERNAL_ERROR")
        r = srv.post(f"/v1/agents/run/{agent_id}/", {"text": "Hi"}, key=key)
        self.assertEqual(r.status, 500, r)
        self.assertIn("malformed", r.json()["message"])
        r = srv.post("/v1/chat/completions", {"model": "front", "messages": [{"role": "user", "content": "Hi"}]},
                     key=key)
        self.assertEqual(r.status, 500, r)
        self.assertEqual(r.json()["error"]["type"], "server_error")
        self.assertEqual(srv.cli("org", "show", "acme").stdout, before)
        usage = srv.get("/api/v3/agents/usage/", key=key).json()["data"]
        self.assertEqual(usage["totalUsage"], 4)
        agent = srv.get(f"/api/v3/agents/{agent_id}", key=key).json()["data"]
        self.assertEqual(agent["performance_metrics"]["total_requests"], 4)
        self.assertEqual(agent["performance_metrics"]["success_rate"], 0.0)
        self.assertIn('agentd_runs_total{endpoint="openai.chat",outcome="failed"} 1', srv.get("/metrics").text)

    def test_down(self):
        srv = self.front(upstream_model(free_port(), "story_teller"))
        key, agent_id = tenant_agent(srv)
        before = srv.cli("org", "show", "acme").stdout
        r = srv.post(f"/v1/agents/{agent_id}/invoke", {"query": "Hi"}, key=key)
        self.assertEqual(r.status, 503, r)
        self.assertIn("unreachable", r.json()["error"]["message"])
        self.assertIn("retry-after", r.headers)
        # A failed run costs nothing.
        self.assertEqual(srv.cli("org", "show", "acme").stdout, before)
        # Streamed, the failure comes after `start` as an `error` event.
        r = srv.post(f"/v1/agents/{agent_id}/stream", {"query": "Hi"}, key=key)
        self.assertEqual(r.status, 200, r)
        events = [b for b in r.text.split("\n\n") if b.strip()]
        self.assertTrue(events[0].startswith("event: start\n"), r.text)
        self.assertTrue(events[-1].startswith("event: error\n"), r.text)
        err = json.loads(events[-1].split("data: ", 1)[1])
        self.assertEqual(err["code"], "SERVICE_UNAVAILABLE")
        self.assertIn("unreachable", err["error"])
        self.assertEqual(err["retry_after"], 1)


if __name__ == "__main__":
    unittest.main()
