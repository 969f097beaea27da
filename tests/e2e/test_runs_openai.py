"""OpenAI-compatible endpoint: POST /v1/chat/completions (model = agent name,
or a catalog model id run directly with the client's messages; non-streamed
and streamed with stream_options.include_usage; stop, max_tokens, temperature,
top_p, seed) and GET /v1/models (agents, then models), over raw HTTP and
through the official `openai` npm package (installed by scripts/test.sh into
tests/e2e/node/). An upstream provider on loopback that echoes what it was
sent (tests/model/openai_upstream_server.py) shows the exact messages."""

import http.client
import json
import os
import subprocess
import unittest

from harness import STORIES, TINY_Q8, ServerTestCase, Upstream

MODELS = [
    {"id": "stories", "name": "Stories 260K", "backend": "local", "path": STORIES,
     "context": 128, "price_input_per_mtok": 1.0, "price_output_per_mtok": 2.0},
    {"id": "tiny-q8", "name": "Tiny Random Q8_0", "backend": "local", "path": TINY_Q8,
     "context": 2048, "price_input_per_mtok": 0.10, "price_output_per_mtok": 0.20},
]
NODE_DIR = os.path.join(os.environ.get("AGENTD_SOURCE_DIR", ""), "tests", "e2e", "node")


def make_agent(srv, key, max_tokens=8):
    body = {"agent_name": "Story Teller", "agent_description": "d", "model": "stories",
            "max_tokens": max_tokens, "temperature": 0.0, "instructions": "Be brief."}
    r = srv.post("/api/v3/agents/create", body, key=key)
    assert r.status == 200, r
    return r.json()["data"]


def stream_chunks(srv, body, key):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
    try:
        conn.request("POST", "/v1/chat/completions", body=json.dumps(body),
                     headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
        r = conn.getresponse()
        raw = r.read().decode()
        ctype = r.getheader("Content-Type")
    finally:
        conn.close()
    datas = [line[6:] for line in raw.split("\n") if line.startswith("data: ")]
    return r.status, ctype, datas, raw


class OpenAiTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.upstream = Upstream()
        cls.server_kwargs = {"models": MODELS + [cls.upstream.model("echo_up", "echo"),
                                                 cls.upstream.model("tools_up", "tools"),
                                                 cls.upstream.model("schema_up", "schema")]}

    @classmethod
    def tearDownClass(cls):
        cls.upstream.stop()

    def tenant(self):
        self.srv.create_org("acme", credits=5)
        return self.srv.create_key("acme")

    def chat(self, key, **over):
        body = {"model": "story_teller", "messages": [{"role": "user", "content": "Once upon a time"}],
                "temperature": 0}
        body.update(over)
        return self.srv.post("/v1/chat/completions", body, key=key)

    def check_completion_shape(self):
        key = self.tenant()
        make_agent(self.srv, key)
        r = self.chat(key)
        self.assertEqual(r.status, 200, r)
        out = r.json()
        self.assertEqual(out["object"], "chat.completion")
        self.assertIsInstance(out["id"], str)
        self.assertIsInstance(out["created"], int)
        self.assertEqual(out["model"], "story_teller")
        self.assertEqual(len(out["choices"]), 1)
        ch = out["choices"][0]
        self.assertEqual(ch["index"], 0)
        self.assertEqual(ch["message"]["role"], "assistant")
        self.assertIsInstance(ch["message"]["content"], str)
        self.assertIn(ch["finish_reason"], ("stop", "length"))
        u = out["usage"]
        self.assertEqual(u["total_tokens"], u["prompt_tokens"] + u["completion_tokens"])
        self.assertLessEqual(u["completion_tokens"], 8)
        # max_tokens caps the answer; a longer conversation is a longer prompt.
        short = self.chat(key, max_tokens=2).json()
        self.assertLessEqual(short["usage"]["completion_tokens"], 2)
        if short["usage"]["completion_tokens"] == 2:
            self.assertEqual(short["choices"][0]["finish_reason"], "length")
        # The client's earlier messages go into the prompt (a model with room).
        r = self.srv.post("/api/v3/agents/create", {"agent_name": "Roomy", "model": "tiny-q8", "max_tokens": 4,
                                                    "temperature": 0.0, "instructions": "Be brief."}, key=key)
        self.assertEqual(r.status, 200, r)
        one = self.chat(key, model="roomy").json()["usage"]["prompt_tokens"]
        r = self.chat(key, model="roomy", messages=[{"role": "user", "content": "A"},
                                                     {"role": "assistant", "content": "B"},
                                                     {"role": "user", "content": "Once upon a time"}])
        self.assertGreater(r.json()["usage"]["prompt_tokens"], one)
        self.assertNotIn("x-agentd-truncated-turns", r.headers)
        # History that cannot fit the 128-token context is dropped, oldest
        # first, and the response says how many turns went.
        r = self.chat(key, messages=[{"role": "user", "content": "x" * 200}, {"role": "assistant", "content": "B"},
                                     {"role": "user", "content": "Once upon a time"}])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["x-agentd-truncated-turns"], "2")
        self.assertEqual(r.json()["usage"]["prompt_tokens"], u["prompt_tokens"])
        # Greedy decoding: the same request gives the same text, with or
        # without a seed and top_p.
        again = self.chat(key, seed=7, top_p=0.9).json()
        self.assertEqual(again["choices"][0]["message"]["content"], ch["message"]["content"])
        # A stop string cuts the answer before it.
        text = ch["message"]["content"]
        if len(text) >= 2:
            stop = text[len(text) // 2:len(text) // 2 + 1]
            cut = self.chat(key, stop=[stop]).json()
            self.assertNotIn(stop, cut["choices"][0]["message"]["content"])
            self.assertTrue(text.startswith(cut["choices"][0]["message"]["content"]))

    def check_errors(self):
        key = self.tenant()
        make_agent(self.srv, key)
        r = self.chat(key, model="nobody")
        self.assertEqual(r.status, 404, r)
        self.assertIsInstance(r.json()["error"]["message"], str)
        r = self.srv.post("/v1/chat/completions", {"model": "story_teller"}, key=key)
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json()["error"]["param"], "messages")
        r = self.chat(key, messages=[{"role": "wizard", "content": "x"}])
        self.assertEqual(r.status, 400, r)
        r = self.chat("agd_bad")
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.json()["error"]["type"], "authentication_error")

    def check_stream_with_usage(self):
        key = self.tenant()
        make_agent(self.srv, key)
        full = self.chat(key).json()
        status, ctype, datas, raw = stream_chunks(
            self.srv, {"model": "story_teller", "messages": [{"role": "user", "content": "Once upon a time"}],
                       "temperature": 0, "stream": True, "stream_options": {"include_usage": True}}, key)
        self.assertEqual(status, 200, raw)
        self.assertTrue(ctype.startswith("text/event-stream"))
        self.assertEqual(datas[-1], "[DONE]")
        chunks = [json.loads(d) for d in datas[:-1]]
        for c in chunks:
            self.assertEqual(c["object"], "chat.completion.chunk")
            self.assertEqual(c["id"], chunks[0]["id"])
        self.assertEqual(chunks[0]["choices"][0]["delta"]["role"], "assistant")
        usage_chunk = chunks[-1]
        self.assertEqual(usage_chunk["choices"], [])
        self.assertEqual(usage_chunk["usage"], full["usage"])
        finish = chunks[-2]["choices"][0]
        self.assertEqual(finish["finish_reason"], full["choices"][0]["finish_reason"])
        text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks[:-1])
        self.assertEqual(text, full["choices"][0]["message"]["content"])
        # Without include_usage: no usage chunk.
        status, _, datas, raw = stream_chunks(
            self.srv, {"model": "story_teller", "messages": [{"role": "user", "content": "Hi"}], "stream": True}, key)
        self.assertEqual(datas[-1], "[DONE]")
        self.assertTrue(all(json.loads(d)["choices"] for d in datas[:-1]), raw)

    def check_models(self):
        key = self.tenant()
        agent = make_agent(self.srv, key)
        r = self.srv.get("/v1/models", key=key)
        self.assertEqual(r.status, 200, r)
        out = r.json()
        self.assertEqual(out["object"], "list")
        # This organization's active agents, then the configuration's models.
        self.assertEqual([(m["id"], m["owned_by"]) for m in out["data"]],
                         [(agent["name"], "agentd"), ("stories", "system"), ("tiny-q8", "system"),
                          ("echo_up", "system"), ("tools_up", "system"), ("schema_up", "system")])
        for m in out["data"]:
            self.assertEqual(m["object"], "model")
            self.assertIsInstance(m["created"], int)
        self.assertEqual(self.srv.get("/v1/models").status, 401)
        # An inactive agent is not listed; an agent named like a model hides it.
        r = self.srv.patch(f"/api/v3/agents/{agent['id']}", {"is_active": False}, key=key)
        self.assertEqual(r.status, 200, r)
        r = self.srv.post("/api/v3/agents/create", {"agent_name": "Echo Up", "model": "echo_up",
                                                    "max_tokens": 8, "instructions": "x"}, key=key)
        self.assertEqual(r.status, 200, r)
        out = self.srv.get("/v1/models", key=key).json()
        self.assertEqual([(m["id"], m["owned_by"]) for m in out["data"]],
                         [("echo_up", "agentd"), ("stories", "system"), ("tiny-q8", "system"), ("tools_up", "system"),
                          ("schema_up", "system")])

    def check_upstream_tools(self):
        key = self.tenant()
        tools = [{"type": "function", "function": {"name": n, "description": "d", "parameters": {"type": "object"}}}
                 for n in ("get_weather", "add")]
        # The provider's calls, put together from its streamed pieces.
        r = self.chat(key, model="tools_up", tools=tools, tool_choice="required", max_tokens=50)
        self.assertEqual(r.status, 200, r)
        choice = r.json()["choices"][0]
        self.assertEqual(choice["finish_reason"], "tool_calls")
        self.assertIsNone(choice["message"]["content"])
        self.assertEqual([(c["id"], c["type"], c["function"]["name"], c["function"]["arguments"])
                          for c in choice["message"]["tool_calls"]],
                         [("call_up1", "function", "get_weather", '{"city": "Oslo", "unit": "celsius"}'),
                          ("call_up2", "function", "add", '{"a": 2, "b": 3}')])
        self.assertEqual(r.json()["usage"]["completion_tokens"], 25)
        # What the provider was sent: the tools, tool_choice, and a conversation with calls and results.
        messages = [{"role": "user", "content": "Weather?"},
                    {"role": "assistant", "content": None, "tool_calls": [
                        {"id": "call_9", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
                    {"role": "tool", "tool_call_id": "call_9", "content": "sunny"}]
        r = self.chat(key, model="echo_up", messages=messages, tools=tools, parallel_tool_calls=False,
                      tool_choice={"type": "function", "function": {"name": "add"}}, max_tokens=50)
        self.assertEqual(r.status, 200, r)
        sent = json.loads(r.json()["choices"][0]["message"]["content"])["body"]
        self.assertEqual(sent["tools"], [{"type": "function", "function": dict(t["function"])} for t in tools])
        self.assertEqual(sent["tool_choice"], {"type": "function", "function": {"name": "add"}})
        self.assertIs(sent["parallel_tool_calls"], False)
        self.assertEqual(sent["messages"][1]["tool_calls"], messages[1]["tool_calls"])
        self.assertIsNone(sent["messages"][1]["content"])
        self.assertEqual(sent["messages"][2], messages[2])

    def check_upstream_answers_are_checked_against_the_schema(self):
        key = self.tenant()
        fits = {"type": "object", "properties": {"total": {"type": "integer", "maximum": 100},
                                                 "label": {"type": "string"}, "done": {"type": "boolean"}},
                "required": ["total", "label"]}
        r = self.chat(key, model="schema_up", max_tokens=50,
                      response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": fits}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(json.loads(r.json()["choices"][0]["message"]["content"])["total"], 42)
        # The provider's answer breaks the schema (total 42 > 10): asked once more, then a 500 that says why.
        breaks = dict(fits, properties=dict(fits["properties"], total={"type": "integer", "maximum": 10}))
        r = self.chat(key, model="schema_up", max_tokens=50,
                      response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": breaks}})
        self.assertEqual(r.status, 500, r)
        self.assertIn("at /total: 42 is above the maximum 10", r.json()["error"]["message"])
        attempts = [n for model, rid, n in self.upstream.seen() if rid == r.headers["x-request-id"]]
        self.assertEqual(attempts, [2])
        # json_object: an object is enough; a schema it cannot check is refused before any request.
        r = self.chat(key, model="schema_up", max_tokens=50, response_format={"type": "json_object"})
        self.assertEqual(r.status, 200, r)
        r = self.chat(key, model="schema_up", response_format={"type": "json_schema", "json_schema": {
            "name": "a", "schema": {"type": "integer", "multipleOf": 3}}})
        self.assertEqual(r.status, 400, r)
        self.assertIn("multipleOf", r.json()["error"]["message"])

    def check_model_run(self):
        key = self.tenant()
        # The model sees the client's messages alone: no instructions, no demonstrations.
        messages = [{"role": "system", "content": "You count."}, {"role": "user", "content": "one"},
                    {"role": "assistant", "content": "two"}, {"role": "user", "content": "three"}]
        r = self.chat(key, model="echo_up", messages=messages, max_tokens=5)
        self.assertEqual(r.status, 200, r)
        out = r.json()
        self.assertEqual(out["model"], "echo_up")
        seen = json.loads(out["choices"][0]["message"]["content"])
        self.assertEqual(seen["body"]["messages"], messages)
        self.assertEqual(seen["body"]["max_tokens"], 5)
        # An agent with the model's name wins: its instructions come first.
        r = self.srv.post("/api/v3/agents/create", {"agent_name": "Echo Up", "model": "echo_up", "max_tokens": 8,
                                                    "instructions": "Be brief."}, key=key)
        self.assertEqual(r.status, 200, r)
        agent_id = r.json()["data"]["id"]
        seen = json.loads(self.chat(key, model="echo_up", messages=messages[1:]).json()
                          ["choices"][0]["message"]["content"])
        self.assertEqual(seen["body"]["messages"], [{"role": "system", "content": "Be brief."}] + messages[1:])
        self.assertEqual(self.srv.delete(f"/api/v3/agents/{agent_id}", key=key).status, 204)

        # A local model, run directly: usage, cost and credits as for any run.
        before = self.srv.get("/api/v3/agents/usage/", key=key).json()["data"]
        r = self.chat(key, model="tiny-q8", max_tokens=4)
        self.assertEqual(r.status, 200, r)
        u = r.json()["usage"]
        self.assertEqual(u["total_tokens"], u["prompt_tokens"] + u["completion_tokens"])
        self.assertLessEqual(u["completion_tokens"], 4)
        after = self.srv.get("/api/v3/agents/usage/", key=key).json()["data"]
        self.assertEqual(after["totalUsage"], before["totalUsage"] + 1)
        self.assertEqual(after["totalTokens"], before["totalTokens"] + u["total_tokens"])
        cost = (u["prompt_tokens"] * 0.10 + u["completion_tokens"] * 0.20) / 1e6
        self.assertAlmostEqual(after["totalCost"] - before["totalCost"], cost, delta=2e-9)
        self.assertIn("tiny-q8", json.dumps(after["usageByModel"]))
        metrics = self.srv.get("/metrics").text
        self.assertIn('agentd_runs_total{endpoint="openai.chat",outcome="ok"} 3', metrics)
        # Streamed too.
        status, _, datas, raw = stream_chunks(
            self.srv, {"model": "tiny-q8", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3,
                       "stream": True, "stream_options": {"include_usage": True}}, key)
        self.assertEqual(status, 200, raw)
        self.assertEqual(datas[-1], "[DONE]")
        self.assertEqual(json.loads(datas[0])["model"], "tiny-q8")
        self.assertLessEqual(json.loads(datas[-2])["usage"]["completion_tokens"], 3)

        # Rate limits apply per key: the headers are on the answer, the 429 in OpenAI's shape.
        limited = self.srv.create_key("acme", "--rpm", "1")
        r = self.chat(limited, model="tiny-q8", max_tokens=2)
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.headers["x-ratelimit-limit"], r.headers["x-ratelimit-remaining"]), ("1", "0"))
        r = self.chat(limited, model="tiny-q8", max_tokens=2)
        self.assertEqual(r.status, 429, r)
        self.assertEqual(r.json()["error"]["type"], "rate_limit_error")
        self.assertIn("retry-after", r.headers)
        # Credits: without max_tokens a model run reserves the rest of the context; 402 when it cannot.
        self.srv.create_org("poor", credits=0.00001)
        poor = self.srv.create_key("poor")
        r = self.chat(poor, model="tiny-q8")
        self.assertEqual(r.status, 402, r)
        self.assertEqual(r.json()["error"]["type"], "insufficient_quota")
        r = self.chat(poor, model="tiny-q8", max_tokens=2)
        self.assertEqual(r.status, 200, r)

    def check_official_sdk(self):
        self.assertTrue(os.path.isdir(os.path.join(NODE_DIR, "node_modules", "openai")),
                        "the openai npm package is missing: scripts/test.sh runs `npm ci` in tests/e2e/node")
        key = self.tenant()
        make_agent(self.srv, key)
        full = self.chat(key, max_tokens=6).json()
        env = dict(os.environ, AGENTD_URL=f"http://127.0.0.1:{self.srv.port}/v1", AGENTD_KEY=key,
                   AGENT="story_teller", MODEL_ID="tiny-q8")
        p = subprocess.run(["node", os.path.join(NODE_DIR, "openai_client.mjs")], capture_output=True, text=True,
                           env=env, timeout=120, cwd=NODE_DIR)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)
        self.assertEqual(out["plain"]["choices"][0]["message"]["content"], full["choices"][0]["message"]["content"])
        self.assertEqual(out["plain"]["usage"], full["usage"])
        text = "".join((c["choices"][0]["delta"].get("content") or "") for c in out["chunks"] if c["choices"])
        self.assertEqual(text, full["choices"][0]["message"]["content"])
        self.assertEqual(out["chunks"][-1]["usage"], full["usage"])
        self.assertEqual([m["id"] for m in out["models"]],
                         ["story_teller", "stories", "tiny-q8", "echo_up", "tools_up", "schema_up"])
        direct = self.chat(key, model="tiny-q8", max_tokens=4).json()
        self.assertEqual(out["model_run"]["model"], "tiny-q8")
        self.assertEqual(out["model_run"]["choices"][0]["message"]["content"],
                         direct["choices"][0]["message"]["content"])
        self.assertEqual(out["model_run"]["usage"], direct["usage"])
        self.assertEqual(out["missing"]["status"], 404)
        self.assertEqual(out["missing"]["name"], "NotFoundError")


if __name__ == "__main__":
    unittest.main()
