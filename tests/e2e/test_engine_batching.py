"""The local engine behind the real server: a session's second turn reuses its
kept KV cache and /metrics counts the hit, the reused tokens and the misses of
new sessions; concurrent greedy runs (batched into shared decode steps) answer
what the same run answers alone."""

import concurrent.futures
import re
import unittest

from harness import STORIES, TINY_Q8, ServerTestCase

MODELS = [
    {"id": "tiny-q8", "name": "Tiny Random Q8_0", "backend": "local", "path": TINY_Q8,
     "context": 2048, "parallel": 4},
    {"id": "stories", "name": "Stories 260K", "backend": "local", "path": STORIES, "context": 128},
]

RUN = "/api/v3/agents/run-agents/{}/run"


def metric(text, name, model):
    """The value of series `name{model="MODEL"}` in Prometheus text, or None."""
    m = re.search(r"^" + re.escape(name) + r'\{model="' + re.escape(model) + r'"\} (\S+)$', text, re.M)
    return float(m.group(1)) if m else None


class EngineBatchingTest(ServerTestCase):
    server_kwargs = {"models": MODELS}

    def setup_agent(self, name, model, max_tokens):
        self.srv.create_org("acme", credits=5)
        key = self.srv.create_key("acme")
        body = {"agent_name": name, "agent_description": "d", "model": model, "max_tokens": max_tokens,
                "temperature": 0.0, "instructions": "Be brief.", "conversation_saving_enabled": True}
        r = self.srv.post("/api/v3/agents/create", body, key=key)
        self.assertEqual(r.status, 200, r)
        return key

    def metrics(self):
        r = self.srv.get("/metrics")
        self.assertEqual(r.status, 200, r)
        return r.text

    def check_session_turns_count_cache_hits_and_misses(self):
        key = self.setup_agent("chat", "tiny-q8", 6)
        before = self.metrics()
        self.assertEqual(metric(before, "agentd_kv_cache_hits_total", "tiny-q8"), 0)
        self.assertEqual(metric(before, "agentd_kv_cache_misses_total", "tiny-q8"), 0)

        url = RUN.format("chat")
        s1 = {"X-Session-ID": "s-1"}
        first = self.srv.post(url, {"message": "Hello there"}, key=key, headers=s1)
        self.assertEqual(first.status, 200, first)
        m = self.metrics()
        self.assertEqual(metric(m, "agentd_kv_cache_hits_total", "tiny-q8"), 0)
        self.assertEqual(metric(m, "agentd_kv_cache_misses_total", "tiny-q8"), 1)
        self.assertGreater(metric(m, "agentd_kv_cache_bytes", "tiny-q8"), 0)

        second = self.srv.post(url, {"message": "And then?"}, key=key, headers=s1)
        self.assertEqual(second.status, 200, second)
        m = self.metrics()
        self.assertEqual(metric(m, "agentd_kv_cache_hits_total", "tiny-q8"), 1)
        self.assertEqual(metric(m, "agentd_kv_cache_misses_total", "tiny-q8"), 1)
        # At least the whole first prompt came from the cache.
        u1 = first.json()["usage"]
        self.assertGreaterEqual(metric(m, "agentd_kv_cache_reused_tokens_total", "tiny-q8"), u1["input_tokens"])

        other = self.srv.post(url, {"message": "Hello there"}, key=key, headers={"X-Session-ID": "s-2"})
        self.assertEqual(other.status, 200, other)
        m = self.metrics()
        self.assertEqual(metric(m, "agentd_kv_cache_hits_total", "tiny-q8"), 1)
        self.assertEqual(metric(m, "agentd_kv_cache_misses_total", "tiny-q8"), 2)
        # A new session answers the first turn of s-1 (greedy, nothing reused).
        self.assertEqual(other.json()["response"], first.json()["response"])
        self.assertEqual(metric(m, "agentd_engine_running_sequences", "tiny-q8"), 0)
        self.assertEqual(metric(m, "agentd_engine_queued_requests", "tiny-q8"), 0)
        self.assertEqual(metric(m, "agentd_engine_queued_requests", "stories"), 0)
        self.assertRegex(m, r'agentd_engine_batch_tokens_count\{model="tiny-q8"\} [1-9]')

    def check_concurrent_runs_answer_as_alone(self):
        key = self.setup_agent("teller", "stories", 16)
        url = RUN.format("teller")
        prompts = ["Once upon a time", "The little dog", "Lily went to the park", "A big red ball"]
        alone = []
        for p in prompts:
            r = self.srv.post(url, {"message": p}, key=key)
            self.assertEqual(r.status, 200, r)
            alone.append(r.json())
        with concurrent.futures.ThreadPoolExecutor(len(prompts)) as pool:
            together = list(pool.map(lambda p: self.srv.post(url, {"message": p}, key=key), prompts))
        for p, a, t in zip(prompts, alone, together):
            self.assertEqual(t.status, 200, t)
            self.assertEqual(t.json()["response"], a["response"], p)
            self.assertEqual(t.json()["usage"], a["usage"], p)


if __name__ == "__main__":
    unittest.main()
