"""Nugen's API as its real clients call it: the calls of Nugen's cookbook
(guides/build_your_agents/guide.ipynb, now and in its first version on the
base https://api.nugen.in/agents, guides/getting_started,
guides/inference_with_nugen_api, guides/create_embeddings_with_nugen) and of
public apps written against the live API, replayed with http.client (which
does not follow redirects), with the same paths, bodies and reading of the
answers."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from harness import AGENTD_BIN, TESTDATA, TINY_Q8, ServerTestCase, Upstream

sys.path.insert(0, os.path.join(os.environ.get("AGENTD_SOURCE_DIR", ""), "tests", "model"))
from openai_upstream_server import embedding_of  # noqa: E402  (the fixture's documented answer)

VOCAB = os.path.join(TESTDATA, "vocab", "ggml-vocab-llama-spm.gguf")


def local_models(long_path):
    return [
        # A small random model with a context that holds instructions and
        # demonstrations (made in setUpClass).
        {"id": "stories", "name": "Stories Long", "backend": "local", "path": long_path, "threads": 1,
         "context": 2048, "price_input_per_mtok": 1.0, "price_output_per_mtok": 2.0},
        {"id": "tiny-q8", "name": "Tiny Random Q8_0", "backend": "local", "path": TINY_Q8,
         "context": 2048, "price_input_per_mtok": 0.10, "price_output_per_mtok": 0.20},
    ]


# The cookbook's create body (guides/build_your_agents), on a model we have.
COOKBOOK_AGENT = {
    "agent_name": "Your First Agent ",
    "agent_description": "This is my first NuGen agent using stories",
    "model": "stories",
    "temperature": 0.0,
    "max_tokens": 8,
    "instructions": "Be brief.",
    "demonstrations": [
        {"user_input": "Capital of France?", "model_output": "Paris."},
        {"user_input": "Exercise?", "model_output": "Good."},
    ],
}


def read_sse_text(r):
    """The cookbook's reading of a streamed run: `data:` lines, [DONE]
    skipped, choices[0].delta.text gathered. Returns (text, last event)."""
    text, last = "", None
    for line in r.text.splitlines():
        if not line.startswith("data:"):
            continue
        chunk = line[len("data:"):].strip()
        if chunk in ("[DONE]", ""):
            continue
        event = json.loads(chunk)
        text += event.get("choices", [{}])[0].get("delta", {}).get("text", "")
        last = event
    return text, last


def org_credits(srv, org):
    return json.loads(srv.cli("org", "show", org).stdout.strip().splitlines()[-1])["credits"]


class NugenClientsTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="agentd-nugen-")
        long_path = os.path.join(cls.dir, "long.gguf")
        subprocess.run([AGENTD_BIN, "make-model", "--out", long_path, "--dim", "64", "--layers", "2", "--heads", "4",
                        "--kv-heads", "2", "--ffn", "128", "--vocab-from", VOCAB, "--type", "Q8_0",
                        "--context-length", "2048", "--seed", "1", "--threads", "1"],
                       check=True, stdout=subprocess.DEVNULL)
        cls.upstream = Upstream()
        cls.server_kwargs = {"models": local_models(long_path) + [cls.upstream.model("embedder", "vectors")]}

    @classmethod
    def tearDownClass(cls):
        cls.upstream.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def tenant(self, org="acme", credits=5):
        self.srv.create_org(org, credits=credits)
        return self.srv.create_key(org)

    def check_cookbook_guide(self):
        key = self.tenant()
        # Step 1: the models an agent may use.
        for path in ("/api/v3/agents/available_models", "/api/v3/agents/available_models/"):
            r = self.srv.get(path, key=key)
            self.assertEqual(r.status, 200, r)
            data = r.json()
            models = data if isinstance(data, list) else data.get("available_models", [])
            self.assertEqual([m["id"] for m in models], ["stories", "tiny-q8", "embedder"])
            self.assertEqual(models[0], {"id": "stories", "name": "Stories Long", "base_model": "stories"})
        # Step 2: create; the answer is read as data.get("data", data).
        r = self.srv.post("/api/v3/agents/create", COOKBOOK_AGENT, key=key)
        self.assertIn(r.status, (200, 201), r)
        data = r.json().get("data", r.json())
        agent_id, agent_name = data.get("id"), data.get("name")
        self.assertEqual(agent_name, "your_first_agent")
        self.assertEqual(data["demonstrations"], COOKBOOK_AGENT["demonstrations"])
        # List, details.
        r = self.srv.get("/api/v3/agents", key=key)
        self.assertEqual(r.status, 200, r)
        self.assertEqual([a["id"] for a in r.json()["agents"]], [agent_id])
        r = self.srv.get(f"/api/v3/agents/{agent_id}", key=key)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["data"]["name"], "your_first_agent")
        # Running: the guide asks for a stream and reads delta.text.
        r = self.srv.post(f"/api/v3/agents/run-agents/{agent_name}/run",
                          {"message": "Tell me about ai", "stream": True}, key=key)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers["content-type"].startswith("text/event-stream"), r.headers)
        self.assertTrue(r.text.rstrip().endswith("data: [DONE]"), r.text[-200:])
        streamed, last = read_sse_text(r)
        self.assertEqual(last["choices"][0]["finish_reason"] in ("stop", "length"), True, last)
        self.assertEqual(last["agent_id"], agent_id)
        usage = last["usage"]
        self.assertGreater(usage["output_tokens"], 0)
        self.assertEqual(usage["total_tokens"], usage["input_tokens"] + usage["output_tokens"])
        # Greedy: the JSON answer of the same run holds the same text.
        r = self.srv.post(f"/api/v3/agents/run-agents/{agent_name}/run", {"message": "Tell me about ai"}, key=key)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["response"], streamed)
        self.assertEqual(r.json()["usage"], usage)
        # Update, with demonstrations as the guide writes them.
        update = {"agent_description": "My improved NuGen assistant for energy topics", "temperature": 0.8,
                  "instructions": "You know renewable energy.",
                  "demonstrations": [{"user_input": "Main renewables?", "model_output": "Sun, wind."}]}
        r = self.srv.patch(f"/api/v3/agents/{agent_id}", update, key=key)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["data"]["demonstrations"], update["demonstrations"])
        self.assertEqual(r.json()["data"]["uncertainty_threshold"], 0.8)
        # Usage: the streamed run counts as any other.
        r = self.srv.get("/api/v3/agents/usage", key=key)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["data"]["totalUsage"], 2)
        self.assertEqual(r.json()["data"]["totalTokens"], 2 * usage["total_tokens"])
        metrics = self.srv.get("/metrics").text
        self.assertIn('agentd_runs_total{endpoint="nugen.run",outcome="ok"} 2', metrics)
        # Cleaning up: success is exactly 204.
        r = self.srv.delete(f"/api/v3/agents/{agent_id}", key=key)
        self.assertEqual(r.status, 204, r)
        self.assertEqual(self.srv.get(f"/api/v3/agents/{agent_id}", key=key).status, 404)

    def check_app_creates_finds_and_runs_by_hyphenated_name(self):
        # An app creates its agent (ignoring "already exists" on restart),
        # finds it in the list by its exact name and runs it by that name,
        # with "stream": false or ?stream=false.
        key = self.tenant()
        name = "aetherpact-negotiation-domain-advisor"
        body = dict(COOKBOOK_AGENT, agent_name=name)
        r = self.srv.post("/api/v3/agents/create/", body, key=key)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["data"]["name"], name)
        r = self.srv.post("/api/v3/agents/create/", body, key=key)
        self.assertEqual(r.status, 400, r)
        self.assertIn("already exists", r.json()["detail"])
        listed = self.srv.get("/api/v3/agents/", key=key).json()["agents"]
        found = [a for a in listed if a["name"] == name]
        self.assertEqual(len(found), 1, listed)
        self.assertEqual(found[0]["endpoint"].rsplit("/", 2)[-2], name)
        for path, run_body in ((f"/api/v3/agents/run-agents/{name}/run/", {"message": "Hi", "stream": False}),
                               (f"/api/v3/agents/run-agents/{name}/run?stream=false", {"message": "Hi"}),
                               (f"/api/v3/agents/{found[0]['id']}/run/", {"message": "Hi"})):
            r = self.srv.post(path, run_body, key=key)
            self.assertEqual(r.status, 200, (path, r))
            self.assertTrue(r.headers["content-type"].startswith("application/json"), r.headers)
            self.assertEqual(r.json()["agent_id"], found[0]["id"])
            self.assertIsInstance(r.json()["response"], str)
        r = self.srv.post(f"/api/v3/agents/run-agents/{name}/run?stream=true", {"message": "Hi"}, key=key)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers["content-type"].startswith("text/event-stream"), r.headers)
        # Bad stream flags are Nugen's 422, naming where.
        r = self.srv.post(f"/api/v3/agents/run-agents/{name}/run", {"message": "Hi", "stream": "yes"}, key=key)
        self.assertEqual(r.status, 422, r)
        self.assertEqual(r.json()["detail"][0]["loc"], ["body", "stream"])
        r = self.srv.post(f"/api/v3/agents/run-agents/{name}/run?stream=maybe", {"message": "Hi"}, key=key)
        self.assertEqual(r.status, 422, r)
        self.assertEqual(r.json()["detail"][0]["loc"], ["query", "stream"])
        # None of these was charged or counted but the five runs.
        self.assertEqual(self.srv.get("/api/v3/agents/usage/", key=key).json()["data"]["totalUsage"], 4)

    def check_every_route_with_and_without_trailing_slash(self):
        key = self.tenant()
        agent = self.srv.post("/api/v3/agents/create", dict(COOKBOOK_AGENT, agent_name="slashes"),
                              key=key).json()["data"]
        aid = agent["id"]
        calls = [
            ("GET", "/api/v3/agents", None, 200),
            ("GET", "/api/v3/agents/available_models", None, 200),
            ("GET", "/api/v3/agents/usage", None, 200),
            ("GET", f"/api/v3/agents/{aid}", None, 200),
            ("PATCH", f"/api/v3/agents/{aid}", {"agent_description": "x"}, 200),
            ("POST", "/api/v3/agents/run-agents/slashes/run", {"message": "Hi"}, 200),
            ("POST", f"/api/v3/agents/{aid}/run", {"message": "Hi"}, 200),
            ("GET", f"/api/v3/agents/{aid}/sessions", None, 200),
            ("GET", "/agents", None, 200),
            ("GET", "/agents/available_models", None, 200),
            ("GET", "/agents/usage", None, 200),
            ("GET", f"/agents/{aid}", None, 200),
            ("POST", f"/agents/{aid}/run", {"message": "Hi"}, 200),
            ("POST", "/api/v3/inference/chat/completions",
             {"model": "stories", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}, 200),
            ("POST", "/api/v3/inference/completions", {"model": "stories", "prompt": "Once", "max_tokens": 4}, 200),
            ("POST", "/api/v3/inference/embeddings", {"model": "embedder", "input": ["a b"]}, 200),
        ]
        for method, path, body, status in calls:
            for p in (path, path + "/"):
                r = self.srv.request(method, p, body=body, key=key)
                self.assertEqual(r.status, status, (method, p, r))
        for i, p in enumerate(("/api/v3/agents/create", "/api/v3/agents/create/", "/agents/create", "/agents/create/")):
            r = self.srv.post(p, dict(COOKBOOK_AGENT, agent_name=f"made {i}"), key=key)
            self.assertEqual(r.status, 200, (p, r))
            made = r.json().get("data", r.json())["id"]
            r = self.srv.delete(("/api/v3/agents/" if "v3" in p else "/agents/") + made + ("/" if i % 2 else ""),
                                key=key)
            self.assertEqual(r.status, 204, (p, r))

    def check_first_base_agents(self):
        # The cookbook's first version: BASE_URL = https://api.nugen.in/agents.
        key = self.tenant()
        r = self.srv.get("/agents/available_models/", key=key)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"available_models": ["stories", "tiny-q8", "embedder"],
                                    "default_model": "stories"})
        body = dict(COOKBOOK_AGENT, agent_name="My First Agent")
        r = self.srv.post("/agents/create/", body, key=key)
        self.assertEqual(r.status, 200, r)
        my_agent = r.json()
        agent_id = my_agent["id"]
        self.assertEqual(my_agent["agent_name"], "my_first_agent")
        self.assertEqual(my_agent["status"], "active")
        self.assertEqual(my_agent["demonstrations"], body["demonstrations"])
        for field in ("agent_description", "model", "temperature", "instructions"):
            self.assertEqual(my_agent[field], body[field], field)
        self.assertEqual(self.srv.get("/agents/", key=key).json(), [agent_id])
        r = self.srv.get(f"/agents/{agent_id}", key=key)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), my_agent)
        r = self.srv.post(f"/agents/{agent_id}/run/", {"message": "Tell me about the sun."}, key=key)
        self.assertEqual(r.status, 200, r)
        run = r.json()
        self.assertEqual(set(run), {"agent_id", "model", "response", "usage"})
        self.assertEqual(run["agent_id"], agent_id)
        r = self.srv.patch(f"/agents/{agent_id}", {"temperature": 0.8, "demonstrations": [
            {"user_input": "Q", "model_output": "A"}]}, key=key)
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json()["temperature"], r.json()["demonstrations"]),
                         (0.8, [{"user_input": "Q", "model_output": "A"}]))
        r = self.srv.get("/agents/usage/", key=key)
        self.assertEqual(r.status, 200, r)
        u = r.json()
        total = run["usage"]["total_tokens"]
        self.assertEqual(u["total_active_agents"], 1)
        self.assertEqual(u["total_deleted_agents"], 0)
        self.assertEqual(u["agent_usage_summary"], {agent_id: {
            "agent_name": "my_first_agent", "total_tokens": total, "input_tokens": run["usage"]["input_tokens"],
            "output_tokens": run["usage"]["output_tokens"]}})
        self.assertEqual(u["most_used_agent"], {"agent_id": agent_id, "agent_name": "my_first_agent",
                                                "total_tokens": total})
        self.assertEqual(self.srv.delete(f"/agents/{agent_id}", key=key).status, 204)
        u = self.srv.get("/agents/usage/", key=key).json()
        self.assertEqual((u["total_active_agents"], u["total_deleted_agents"], u["most_used_agent"]), (0, 1, None))
        r = self.srv.get(f"/agents/{agent_id}", key=key)
        self.assertEqual(r.status, 404, r)
        self.assertIsInstance(r.json()["detail"], str)
        self.assertEqual(self.srv.get("/agents/", key="agd_" + "0" * 48).status, 401)

    def check_inference_routes(self):
        key = self.tenant()
        base = "/api/v3/inference"
        r = self.srv.post(base + "/chat/completions", {"model": "stories", "max_tokens": 6, "temperature": 0.0,
                                                       "messages": [{"role": "user", "content": "Tell me"}],
                                                       "stream": False}, key=key)
        self.assertEqual(r.status, 200, r)
        self.assertIsInstance(r.json()["choices"][0]["message"]["content"], str)
        # getting_started: a prompt completion.
        payload = {"max_tokens": 6, "model": "stories", "prompt": "Once upon a time", "stream": False,
                   "temperature": 0}
        r = self.srv.post(base + "/completions", payload, key=key)
        self.assertEqual(r.status, 200, r)
        out = r.json()
        self.assertEqual(out["object"], "text_completion")
        text = out["choices"][0]["text"]
        self.assertIsInstance(text, str)
        self.assertGreater(out["usage"]["completion_tokens"], 0)
        # The raw prompt, not a chat: the same text as a chat message takes
        # the template's tokens besides.
        r = self.srv.post(base + "/chat/completions", {"model": "stories", "max_tokens": 1, "messages": [
            {"role": "user", "content": payload["prompt"]}]}, key=key)
        self.assertLess(out["usage"]["prompt_tokens"], r.json()["usage"]["prompt_tokens"])
        r = self.srv.post(base + "/completions", dict(payload, stream=True), key=key)
        self.assertEqual(r.status, 200, r)
        pieces = [json.loads(l[6:]) for l in r.text.splitlines() if l.startswith("data: {")]
        self.assertEqual("".join(p["choices"][0]["text"] for p in pieces), text)
        self.assertEqual(pieces[-1]["usage"], out["usage"])
        # Fields agentd cannot honour are named, not dropped.
        r = self.srv.post(base + "/completions", dict(payload, n=2), key=key)
        self.assertEqual(r.status, 422, r)
        self.assertEqual(r.json()["detail"][0]["loc"], ["body", "n"])
        r = self.srv.post(base + "/completions", {"model": "stories"}, key=key)
        self.assertEqual((r.status, r.json()["detail"][0]["loc"]), (422, ["body", "prompt"]))
        # Embeddings: an upstream's; a local model cannot.
        before = org_credits(self.srv, "acme")
        texts = ["The Mediterranean diet emphasizes fish", "Photosynthesis in plants"]
        r = self.srv.post(base + "/embeddings", {"input": texts, "model": "embedder", "dimensions": 5}, key=key)
        self.assertEqual(r.status, 200, r)
        got = [entry["embedding"] for entry in r.json()["data"]]
        self.assertEqual(got, [embedding_of(t, 5) for t in texts])
        words = sum(len(t.split()) for t in texts)
        self.assertEqual(r.json()["usage"]["prompt_tokens"], words)
        self.assertAlmostEqual(before - org_credits(self.srv, "acme"), words * 1.0 / 1e6, delta=2e-9)
        usage = self.srv.get("/api/v3/agents/usage", key=key).json()["data"]
        self.assertEqual(usage["usageByModel"]["embedder"]["requests"], 1)
        self.assertEqual(usage["usageByModel"]["embedder"]["input_tokens"], words)
        r = self.srv.post(base + "/embeddings", {"input": "one text", "model": "embedder"}, key=key)
        self.assertEqual(r.json()["data"][0]["embedding"], embedding_of("one text"))
        r = self.srv.post(base + "/embeddings", {"input": ["x"], "model": "tiny-q8"}, key=key)
        self.assertEqual(r.status, 400, r)
        self.assertIn("tiny-q8", r.json()["detail"])
        r = self.srv.post("/v1/embeddings", {"input": ["x"], "model": "tiny-q8"}, key=key)
        self.assertEqual(r.status, 400, r)
        self.assertIn("tiny-q8", r.json()["error"]["message"])
        r = self.srv.post(base + "/embeddings", {"input": ["x"], "model": "nope"}, key=key)
        self.assertEqual(r.status, 404, r)
        r = self.srv.post(base + "/embeddings", {"input": [3], "model": "embedder"}, key=key)
        self.assertEqual((r.status, r.json()["detail"][0]["loc"]), (422, ["body", "input"]))
        # Nothing but the two good requests reached the upstream's bill.
        usage = self.srv.get("/api/v3/agents/usage", key=key).json()["data"]
        self.assertEqual(usage["usageByModel"]["embedder"]["requests"], 2)


if __name__ == "__main__":
    unittest.main()
