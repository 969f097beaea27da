"""Nugen-style runs (/api/v3/agents/run-agents/{name}/run and /{id}/run/),
the usage route, sessions, credits (402, nothing charged; concurrent runs
never overdraw), rate limits (429 with Retry-After) and /metrics, against the
seed page ../shared/seeds/nugen-run-agent-by-name.txt."""

import concurrent.futures
import json
import os
import re
import unittest

from harness import STORIES, TINY_Q8, Server, ServerTestCase

SEEDS = os.path.join(os.environ.get("AGENTD_SOURCE_DIR", ""), "..", "shared", "seeds")

MODELS = [
    {"id": "tiny-q8", "name": "Tiny Random Q8_0", "backend": "local", "path": TINY_Q8,
     "context": 2048, "price_input_per_mtok": 0.10, "price_output_per_mtok": 0.20},
    {"id": "stories", "name": "Stories 260K", "backend": "local", "path": STORIES,
     "context": 128, "price_input_per_mtok": 1.0, "price_output_per_mtok": 2.0},
    # Expensive on purpose: one run reserves a few cents.
    {"id": "pricey", "name": "Pricey Stories", "backend": "local", "path": STORIES,
     "context": 128, "price_input_per_mtok": 500.0, "price_output_per_mtok": 500.0},
]


def seed_run_response():
    with open(os.path.join(SEEDS, "nugen-run-agent-by-name.txt"), encoding="utf-8") as f:
        text = f.read()
    start = text.index("Example Response:")
    body = text[text.index("{", start):text.index("Notes:", start)]
    # The seed's `response` string spans lines; JSON needs them escaped.
    return json.loads(body, strict=False)


def org_credits(srv, org):
    return json.loads(srv.cli("org", "show", org).stdout.strip().splitlines()[-1])["credits"]


def make_agent(srv, key, name="Support Bot", model="stories", max_tokens=8, **extra):
    body = {"agent_name": name, "agent_description": "d", "model": model, "max_tokens": max_tokens,
            "temperature": 0.0, "instructions": "Be brief.", **extra}
    r = srv.post("/api/v3/agents/create", body, key=key)
    assert r.status == 200, r
    return r.json()["data"]


class NugenRunTest(ServerTestCase):
    server_kwargs = {"models": MODELS}

    def tenant(self, org="acme", credits=5, *key_args):
        self.srv.create_org(org, credits=credits)
        return self.srv.create_key(org, *key_args)

    def check_run_by_name_matches_seed(self):
        key = self.tenant()
        agent = make_agent(self.srv, key)
        self.assertEqual(agent["name"], "support_bot")
        r = self.srv.post("/api/v3/agents/run-agents/support_bot/run", {"message": "Once upon a time"}, key=key)
        self.assertEqual(r.status, 200, r)
        out = r.json()
        seed = seed_run_response()
        self.assertEqual(set(out), set(seed))
        for field, example in seed.items():
            self.assertIsInstance(out[field], type(example), field)
        self.assertEqual(set(out["usage"]), set(seed["usage"]))
        for k in seed["usage"]:
            self.assertIsInstance(out["usage"][k], int, k)
        self.assertEqual(out["agent_id"], agent["id"])
        self.assertEqual(out["model"], "stories")
        u = out["usage"]
        self.assertGreater(u["input_tokens"], 0)
        self.assertLessEqual(u["output_tokens"], 8)
        self.assertEqual(u["total_tokens"], u["input_tokens"] + u["output_tokens"])
        # Runs by id answer the same shape; greedy decoding answers the same text.
        r2 = self.srv.post(f"/api/v3/agents/{agent['id']}/run/", {"message": "Once upon a time"}, key=key)
        self.assertEqual(r2.status, 200, r2)
        self.assertEqual(r2.json()["response"], out["response"])
        self.assertEqual(r2.json()["usage"], u)

    def check_max_tokens_fit_the_models_own_context(self):
        # tiny-q8 is declared with context 2048 but the file was trained for
        # 128 positions: an agent allowing 256 tokens still runs, and the run
        # stays within what the model can hold.
        key = self.tenant()
        make_agent(self.srv, key, model="tiny-q8", max_tokens=256)
        r = self.srv.post("/api/v3/agents/run-agents/support_bot/run", {"message": "Hello"}, key=key)
        self.assertEqual(r.status, 200, r)
        u = r.json()["usage"]
        self.assertGreater(u["output_tokens"], 0)
        self.assertLessEqual(u["input_tokens"] + u["output_tokens"], 128, u)

    def check_errors(self):
        key = self.tenant()
        make_agent(self.srv, key)
        r = self.srv.post("/api/v3/agents/run-agents/nobody/run", {"message": "hi"}, key=key)
        self.assertEqual(r.status, 404, r)
        self.assertIsInstance(r.json()["detail"], str)
        r = self.srv.post("/api/v3/agents/run-agents/support_bot/run", {}, key=key)
        self.assertEqual(r.status, 422, r)
        self.assertEqual(r.json()["detail"][0]["loc"], ["body", "message"])
        r = self.srv.post("/api/v3/agents/run-agents/support_bot/run", {"message": "hi"})
        self.assertEqual(r.status, 401, r)
        # Another organization's agent is not found by name.
        other = self.tenant("other")
        r = self.srv.post("/api/v3/agents/run-agents/support_bot/run", {"message": "hi"}, key=other)
        self.assertEqual(r.status, 404, r)

    def check_usage_and_credits(self):
        key = self.tenant(credits=5)
        make_agent(self.srv, key)
        before = org_credits(self.srv, "acme")
        self.assertAlmostEqual(before, 5.0)
        r = self.srv.get("/api/v3/agents/usage/", key=key)
        self.assertEqual(r.status, 200, r)
        d = r.json()["data"]
        self.assertEqual(d["totalUsage"], 0)
        self.assertEqual(d["totalTokens"], 0)
        self.assertIsNone(d["mostUsedModel"])
        tokens = 0
        tokens_in = 0
        cost = 0.0
        for msg in ["Once upon a time", "The cat"]:
            r = self.srv.post("/api/v3/agents/run-agents/support_bot/run", {"message": msg}, key=key)
            self.assertEqual(r.status, 200, r)
            u = r.json()["usage"]
            tokens += u["total_tokens"]
            tokens_in += u["input_tokens"]
            cost += (u["input_tokens"] * 1.0 + u["output_tokens"] * 2.0) / 1e6
        after = org_credits(self.srv, "acme")
        self.assertAlmostEqual(before - after, cost, delta=2e-9)
        d = self.srv.get("/api/v3/agents/usage/", key=key).json()["data"]
        self.assertEqual(d["totalUsage"], 2)
        self.assertEqual(d["totalTokens"], tokens)
        self.assertAlmostEqual(d["averageTokensPerRequest"], tokens / 2)
        self.assertEqual(d["mostUsedModel"], "stories")
        self.assertEqual(d["usageByModel"]["stories"]["requests"], 2)
        self.assertEqual(d["usageByModel"]["stories"]["total_tokens"], tokens)
        # The agent's own figures follow the runs.
        listed = self.srv.get("/api/v3/agents", key=key).json()["agents"][0]
        data = self.srv.get(f"/api/v3/agents/{listed['id']}", key=key).json()["data"]
        self.assertEqual(data["usage_count"], 2)
        self.assertRegex(data["last_used"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
        pm = data["performance_metrics"]
        self.assertEqual(pm["total_requests"], 2)
        self.assertEqual(pm["success_rate"], 1.0)
        self.assertIsInstance(pm["average_response_time"], int)
        # A list reads every agent's figures in one query: the same figures.
        for field in ("usage_count", "last_used", "performance_metrics"):
            self.assertEqual(listed[field], data[field], field)
        # Another organization's usage is its own.
        other = self.tenant("other")
        self.assertEqual(self.srv.get("/api/v3/agents/usage/", key=other).json()["data"]["totalUsage"], 0)
        # Metrics count the runs (unauthenticated Prometheus text).
        m = self.srv.get("/metrics")
        self.assertEqual(m.status, 200, m)
        self.assertTrue(m.headers["content-type"].startswith("text/plain"), m.headers)
        runs = [l for l in m.text.splitlines() if l.startswith("agentd_runs_total{")]
        self.assertTrue(any('endpoint="nugen.run"' in l and l.endswith(" 2") for l in runs), runs)
        # HTTP requests are counted by route pattern (a bounded label), never by raw path.
        reqs = [l for l in m.text.splitlines() if l.startswith("agentd_http_requests_total{")]
        self.assertTrue(any('route="/api/v3/agents/run-agents/{agent_name}/run"' in l and 'status="200"' in l
                            and l.endswith(" 2") for l in reqs), reqs)
        self.assertFalse(any("support_bot" in l for l in reqs), reqs)
        self.assertTrue(any(l.startswith("agentd_http_request_duration_seconds_bucket{") for l in m.text.splitlines()))
        lines = m.text.splitlines()
        self.assertIn(f'agentd_tokens_total{{direction="in",model="stories"}} {tokens_in}', lines)
        self.assertIn(f'agentd_tokens_total{{direction="out",model="stories"}} {tokens - tokens_in}', lines)
        self.assertTrue(any(l.startswith("agentd_run_duration_seconds_bucket{") for l in lines))
        self.assertIn("agentd_job_queue_depth 0", lines)

    def check_insufficient_credits_charges_nothing(self):
        key = self.tenant(credits=0.01)
        make_agent(self.srv, key, model="pricey")
        r = self.srv.post("/api/v3/agents/run-agents/support_bot/run", {"message": "Once upon a time"}, key=key)
        self.assertEqual(r.status, 402, r)
        self.assertIsInstance(r.json()["detail"], str)
        self.assertAlmostEqual(org_credits(self.srv, "acme"), 0.01)
        d = self.srv.get("/api/v3/agents/usage/", key=key).json()["data"]
        self.assertEqual(d["totalTokens"], 0)
        self.assertIn('agentd_refusals_total{reason="credits"} 1', self.srv.get("/metrics").text)

    def check_rate_limit(self):
        key = self.tenant("acme", 5, "--rpm", "2")
        make_agent(self.srv, key)
        for i in range(2):
            r = self.srv.post("/api/v3/agents/run-agents/support_bot/run", {"message": "Hi"}, key=key)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.headers["x-ratelimit-limit"], "2")
            self.assertEqual(r.headers["x-ratelimit-remaining"], str(1 - i))
            self.assertIn("x-ratelimit-reset", r.headers)
        r = self.srv.post("/api/v3/agents/run-agents/support_bot/run", {"message": "Hi"}, key=key)
        self.assertEqual(r.status, 429, r)
        self.assertGreater(int(r.headers["retry-after"]), 0)
        self.assertEqual(r.headers["x-ratelimit-remaining"], "0")
        self.assertIn('agentd_refusals_total{reason="rate_limit"} 1', self.srv.get("/metrics").text)

    def check_sessions(self):
        key = self.tenant()
        agent = make_agent(self.srv, key, model="tiny-q8", conversation_saving_enabled=True)
        url = "/api/v3/agents/run-agents/support_bot/run"
        h = {"X-Session-ID": "session-xyz789"}
        first = self.srv.post(url, {"message": "Hello there"}, key=key, headers=h)
        self.assertEqual(first.status, 200, first)
        second = self.srv.post(url, {"message": "Hello there"}, key=key, headers=h)
        self.assertEqual(second.status, 200, second)
        u1, u2 = first.json()["usage"], second.json()["usage"]
        # The second turn's prompt holds the first exchange.
        self.assertGreater(u2["input_tokens"], u1["input_tokens"] + u1["output_tokens"] - 1)
        # Another organization's session with the same id is its own.
        other = self.tenant("other")
        make_agent(self.srv, other, model="tiny-q8", conversation_saving_enabled=True)
        o = self.srv.post(url, {"message": "Hello there"}, key=other, headers=h)
        self.assertEqual(o.status, 200, o)
        self.assertEqual(o.json()["usage"]["input_tokens"], u1["input_tokens"])

        base = f"/api/v3/agents/{agent['id']}/sessions"
        r = self.srv.get(base, key=key)
        self.assertEqual(r.status, 200, r)
        sessions = r.json()["sessions"]
        self.assertEqual([s["session_id"] for s in sessions], ["session-xyz789"])
        self.assertEqual(sessions[0]["turn_count"], 4)
        r = self.srv.get(base + "/session-xyz789", key=key)
        self.assertEqual(r.status, 200, r)
        msgs = r.json()["data"]["messages"]
        self.assertEqual([m["role"] for m in msgs], ["user", "assistant", "user", "assistant"])
        self.assertEqual(msgs[0]["content"], "Hello there")
        self.assertEqual(msgs[1]["content"], first.json()["response"])
        self.assertEqual(msgs[1]["tokens"], u1["output_tokens"])
        # Another organization cannot read it.
        self.assertEqual(self.srv.get(base + "/session-xyz789", key=other).status, 404)
        r = self.srv.delete(base + "/session-xyz789", key=key)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["session_id"], "session-xyz789")
        self.assertEqual(self.srv.get(base + "/session-xyz789", key=key).status, 404)
        self.assertEqual(self.srv.delete(base + "/session-xyz789", key=key).status, 404)
        self.assertEqual(self.srv.get(base, key=key).json()["sessions"], [])
        # A fresh start after delete: the prompt is the first turn's again.
        again = self.srv.post(url, {"message": "Hello there"}, key=key, headers=h)
        self.assertEqual(again.json()["usage"]["input_tokens"], u1["input_tokens"])


def run_many(servers, key, n):
    def one(i):
        srv = servers[i % len(servers)]
        return srv.post("/api/v3/agents/run-agents/support_bot/run", {"message": "Once upon a time"}, key=key)
    with concurrent.futures.ThreadPoolExecutor(max_workers=n) as ex:
        return list(ex.map(one, range(n)))


class ConcurrentCreditsTest(unittest.TestCase):
    """Runs racing for a balance that covers only some of them: each one is
    200 or 402 and the balance never goes below zero."""

    def check(self, results, srv):
        statuses = sorted(r.status for r in results)
        self.assertTrue(set(statuses) <= {200, 402}, results)
        self.assertIn(200, statuses)
        self.assertIn(402, statuses)
        credits = org_credits(srv, "acme")
        self.assertGreaterEqual(credits, 0.0)
        spent = sum((r.json()["usage"]["input_tokens"] + r.json()["usage"]["output_tokens"]) * 500.0 / 1e6
                    for r in results if r.status == 200)
        self.assertAlmostEqual(0.1 - credits, spent, delta=1e-8)

    def test_sqlite(self):
        with Server(backend="sqlite", models=MODELS) as srv:
            srv.create_org("acme", credits=0.1)
            key = srv.create_key("acme")
            make_agent(srv, key, model="pricey")
            self.check(run_many([srv], key, 8), srv)

    def test_postgres_two_processes(self):
        with Server(backend="postgres", models=MODELS) as a:
            with Server(db_url=a.db_url, models=MODELS) as b:
                a.create_org("acme", credits=0.1)
                key = a.create_key("acme")
                make_agent(a, key, model="pricey")
                self.check(run_many([a, b], key, 8), a)


if __name__ == "__main__":
    unittest.main()
