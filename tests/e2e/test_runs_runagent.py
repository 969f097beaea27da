"""run-agent.ai-style runs: POST /v1/agents/{id}/invoke (shape of
../shared/seeds/runagent-invoke.txt, parameter overrides, context, sessions,
errors) and POST /v1/agents/{id}/stream (server-sent events in order)."""

import http.client
import json
import os
import unittest

from harness import STORIES, TINY_Q8, ServerTestCase

MODELS = [
    {"id": "tiny-q8", "name": "Tiny Random Q8_0", "backend": "local", "path": TINY_Q8,
     "context": 2048, "price_input_per_mtok": 0.10, "price_output_per_mtok": 0.20},
    {"id": "stories", "name": "Stories 260K", "backend": "local", "path": STORIES,
     "context": 128, "price_input_per_mtok": 1.0, "price_output_per_mtok": 2.0},
]


def make_agent(srv, key, model="stories", max_tokens=12, temperature=0.0):
    body = {"name": "Story Agent", "description": "d", "model": model, "instructions": "Be brief.",
            "parameters": {"temperature": temperature, "max_tokens": max_tokens}}
    r = srv.post("/v1/agents", body, key=key)
    assert r.status in (200, 201), r
    return r.json()["data"]["id"] if "data" in r.json() else r.json()["id"]


def read_sse(srv, path, body, key):
    """(status, headers, [(event, data-dict)]) of a streamed POST."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
    try:
        conn.request("POST", path, body=json.dumps(body),
                     headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
        r = conn.getresponse()
        raw = r.read().decode()
        headers = {k.lower(): v for k, v in r.getheaders()}
    finally:
        conn.close()
    events = []
    for block in raw.split("\n\n"):
        if not block.strip():
            continue
        name, data = "", ""
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data += line[6:]
        events.append((name, json.loads(data) if data.startswith("{") else data))
    return r.status, headers, events, raw


class RunAgentRunTest(ServerTestCase):
    server_kwargs = {"models": MODELS}

    def tenant(self, org="acme", *key_args):
        self.srv.create_org(org, credits=5)
        return self.srv.create_key(org, *key_args)

    def check_invoke_shape(self):
        key = self.tenant()
        agent_id = make_agent(self.srv, key)
        r = self.srv.post(f"/v1/agents/{agent_id}/invoke", {"query": "Once upon a time"}, key=key,
                          headers={"X-Request-ID": "req_abc123"})
        self.assertEqual(r.status, 200, r)
        out = r.json()
        self.assertEqual(set(out), {"result", "usage", "metadata"})
        res = out["result"]
        self.assertIsInstance(res["answer"], str)
        self.assertIsInstance(res["confidence"], float)
        self.assertGreater(res["confidence"], 0.0)
        self.assertLessEqual(res["confidence"], 1.0)
        self.assertEqual(res["sources"], [])
        u = out["usage"]
        self.assertEqual(set(u), {"prompt_tokens", "completion_tokens", "total_tokens"})
        self.assertEqual(u["total_tokens"], u["prompt_tokens"] + u["completion_tokens"])
        self.assertLessEqual(u["completion_tokens"], 12)
        md = out["metadata"]
        self.assertIsInstance(md["execution_time"], float)
        self.assertGreater(md["execution_time"], 0.0)
        self.assertLess(md["execution_time"], 60.0)
        self.assertIsInstance(md["agent_version"], str)
        self.assertEqual(md["request_id"], "req_abc123")
        # The agent's health route agrees that it can run.
        h = self.srv.get(f"/v1/agents/{agent_id}/health", key=key)
        self.assertEqual(h.status, 200, h)
        self.assertEqual(h.json()["status"], "healthy")
        self.assertIs(h.json()["model_available"], True)

    def check_parameters_and_context(self):
        key = self.tenant()
        agent_id = make_agent(self.srv, key)
        url = f"/v1/agents/{agent_id}/invoke"
        base = self.srv.post(url, {"query": "Once"}, key=key).json()
        short = self.srv.post(url, {"query": "Once", "parameters": {"max_tokens": 2, "style": "x"}}, key=key)
        self.assertEqual(short.status, 200, short)
        self.assertLessEqual(short.json()["usage"]["completion_tokens"], 2)
        # max_tokens above the agent's is refused (the agent's limit holds).
        r = self.srv.post(url, {"query": "Once", "parameters": {"max_tokens": 5000}}, key=key)
        self.assertEqual(r.status, 400, r)
        r = self.srv.post(url, {"query": "Once", "parameters": {"temperature": 3.5}}, key=key)
        self.assertEqual(r.status, 400, r)
        # Context joins the prompt; named context is listed in sources.
        ctx = self.srv.post(url, {"query": "Once", "context": "The sky is green."}, key=key).json()
        self.assertGreater(ctx["usage"]["prompt_tokens"], base["usage"]["prompt_tokens"])
        named = self.srv.post(url, {"query": "Once", "context": {"weather_api": "Sunny."}}, key=key).json()
        self.assertEqual(named["result"]["sources"], ["weather_api"])
        self.assertGreater(named["usage"]["prompt_tokens"], base["usage"]["prompt_tokens"])

    def check_errors(self):
        key = self.tenant()
        agent_id = make_agent(self.srv, key)
        r = self.srv.post(f"/v1/agents/{agent_id}/invoke", {}, key=key)
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json()["error"]["code"], "MISSING_REQUIRED_FIELD")
        self.assertEqual(r.json()["error"]["status"], 400)
        r = self.srv.post(f"/v1/agents/{agent_id}/invoke", {"query": 5}, key=key)
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json()["error"]["code"], "INVALID_FIELD_TYPE")
        r = self.srv.post(f"/v1/agents/{agent_id}/invoke", {"query": "x"}, key="agd_wrong")
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.json()["error"]["code"], "INVALID_API_KEY")
        r = self.srv.post("/v1/agents/00000000-0000-4000-8000-000000000000/invoke", {"query": "x"}, key=key)
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.json()["error"]["code"], "AGENT_NOT_FOUND")
        # 402 with the platform's code when the balance is gone.
        self.srv.create_org("poor", credits=0)
        poor = self.srv.create_key("poor")
        poor_agent = make_agent(self.srv, poor)
        r = self.srv.post(f"/v1/agents/{poor_agent}/invoke", {"query": "x"}, key=poor)
        self.assertEqual(r.status, 402, r)
        self.assertEqual(r.json()["error"]["code"], "INSUFFICIENT_CREDITS")

    def check_rate_limit(self):
        key = self.tenant("acme", "--rpm", "2")
        agent_id = make_agent(self.srv, key)
        for _ in range(2):
            self.assertEqual(self.srv.post(f"/v1/agents/{agent_id}/invoke", {"query": "x"}, key=key).status, 200)
        r = self.srv.post(f"/v1/agents/{agent_id}/invoke", {"query": "x"}, key=key)
        self.assertEqual(r.status, 429, r)
        err = r.json()["error"]
        self.assertEqual(err["code"], "RATE_LIMIT_EXCEEDED")
        self.assertIsInstance(err["retry_after"], int)
        self.assertGreater(err["retry_after"], 0)
        self.assertEqual(r.headers["retry-after"], str(err["retry_after"]))
        self.assertEqual(r.headers["x-ratelimit-limit"], "2")
        # The stream refuses the same way, before any event.
        r = self.srv.post(f"/v1/agents/{agent_id}/stream", {"query": "x"}, key=key)
        self.assertEqual(r.status, 429, r)
        self.assertEqual(r.json()["error"]["code"], "RATE_LIMIT_EXCEEDED")

    def check_session(self):
        key = self.tenant()
        r = self.srv.post("/v1/agents", {"name": "Chat", "model": "tiny-q8", "instructions": "Be brief.",
                                         "parameters": {"temperature": 0.0, "max_tokens": 6}}, key=key)
        agent_id = (r.json().get("data") or r.json())["id"]
        # Conversation saving on through the Nugen PATCH (same agent).
        self.srv.patch(f"/api/v3/agents/{agent_id}", {"conversation_saving_enabled": True}, key=key)
        url = f"/v1/agents/{agent_id}/invoke"
        a = self.srv.post(url, {"query": "Hello", "session_id": "user-123-session"}, key=key).json()
        b = self.srv.post(url, {"query": "Hello", "session_id": "user-123-session"}, key=key).json()
        self.assertGreater(b["usage"]["prompt_tokens"], a["usage"]["prompt_tokens"])
        c = self.srv.post(url, {"query": "Hello", "session_id": "another"}, key=key).json()
        self.assertEqual(c["usage"]["prompt_tokens"], a["usage"]["prompt_tokens"])

    def check_stream_events(self):
        key = self.tenant()
        agent_id = make_agent(self.srv, key)
        full = self.srv.post(f"/v1/agents/{agent_id}/invoke", {"query": "Once upon a time"}, key=key).json()
        status, headers, events, raw = read_sse(self.srv, f"/v1/agents/{agent_id}/stream",
                                                {"query": "Once upon a time", "session_id": "s1"}, key)
        self.assertEqual(status, 200, raw)
        self.assertTrue(headers["content-type"].startswith("text/event-stream"), headers)
        names = [e[0] for e in events]
        self.assertEqual(names[0], "start", raw)
        self.assertEqual(names[-1], "done", raw)
        self.assertTrue(all(n == "chunk" for n in names[1:-1]), names)
        start = events[0][1]
        self.assertIsInstance(start["message"], str)
        self.assertEqual(start["session_id"], "s1")
        chunks = [e[1] for e in events[1:-1]]
        self.assertEqual([c["index"] for c in chunks], list(range(len(chunks))))
        self.assertEqual("".join(c["content"] for c in chunks), full["result"]["answer"])
        done = events[-1][1]
        self.assertEqual(done["usage"], full["usage"])
        self.assertIsInstance(done["execution_time"], float)
        # The streamed run is recorded and charged like the invoked one.
        usage = self.srv.get("/api/v3/agents/usage/", key=key).json()["data"]
        self.assertEqual(usage["totalUsage"], 2)
        self.assertEqual(usage["totalTokens"], 2 * full["usage"]["total_tokens"])
        # An unknown agent is a plain 404 before any event.
        r = self.srv.post("/v1/agents/00000000-0000-4000-8000-000000000000/stream", {"query": "x"}, key=key)
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.json()["error"]["code"], "AGENT_NOT_FOUND")


if __name__ == "__main__":
    unittest.main()
