"""Roe-style runs: POST /v1/agents/run/{agent_id}/ (and .../versions/{id}/)
with the declared inputs as JSON fields, form fields and multipart files; a
missing input is 400 naming it; the answer is [{key, description, data_type,
value, cost}]; output_schema answers that do not parse are a 500 saying so.
With a real upstream provider on loopback (tests/model/openai_upstream_server.py)
that answers JSON: one datum per output_schema property, values as strings;
and the job-cancel route POST /v1/agents/jobs/{id}/cancel/ for pending,
running and finished jobs, also for a job running in another agentd process
on the same PostgreSQL database. (test_roe_openapi.py checks every Roe
answer against Roe's OpenAPI document.)"""

import json
import time
import unittest
import urllib.parse
import uuid

from harness import STORIES, TINY_Q8, Server, ServerTestCase, Upstream

MODELS = [
    {"id": "stories", "name": "Stories 260K", "backend": "local", "path": STORIES,
     "context": 128, "price_input_per_mtok": 1.0, "price_output_per_mtok": 2.0},
    {"id": "tiny-q8", "name": "Tiny Random Q8_0", "backend": "local", "path": TINY_Q8,
     "context": 2048, "price_input_per_mtok": 0.10, "price_output_per_mtok": 0.20},
]


def agent_body(org_id, **over):
    body = {
        "name": "Story Reader",
        "organization_id": org_id,
        "description": "Reads stories",
        "input_definitions": [
            {"key": "title", "data_type": "text/plain", "description": "Title", "example": "Tom"},
            {"key": "story", "data_type": "text/plain", "description": "Story text", "example": "Once"},
        ],
        "engine_config": {"model": "stories", "instructions": "Be brief.", "temperature": 0.0, "max_tokens": 6},
        "version_name": "1.0.0",
    }
    body.update(over)
    return body


class RoeRunTest(ServerTestCase):
    server_kwargs = {"models": MODELS}

    def setup_agent(self, **over):
        org_id = self.srv.create_org("acme", credits=5)
        key = self.srv.create_key("acme")
        r = self.srv.post("/v1/agents/", agent_body(org_id, **over), key=key)
        self.assertEqual(r.status, 201, r)
        return key, r.json()

    def check_json_form_multipart_agree(self):
        key, agent = self.setup_agent()
        url = f"/v1/agents/run/{agent['id']}/"
        r = self.srv.post(url, {"title": "Tom", "story": "Once upon a time", "metadata": {"a": 1}}, key=key)
        self.assertEqual(r.status, 200, r)
        out = r.json()
        self.assertEqual(len(out), 1)
        d = out[0]
        self.assertEqual(set(d), {"key", "description", "data_type", "value", "cost"})
        self.assertEqual((d["key"], d["data_type"]), ("output", "text/plain"))
        self.assertIsInstance(d["value"], str)
        self.assertIsInstance(d["cost"], float)
        self.assertGreater(d["cost"], 0.0)
        usage = self.srv.get("/api/v3/agents/usage/", key=key).json()["data"]
        self.assertAlmostEqual(d["cost"], usage["totalCost"], delta=2e-9)
        # The datum list has no room for usage: headers carry it.
        tokens_in, tokens_out = int(r.headers["x-agentd-input-tokens"]), int(r.headers["x-agentd-output-tokens"])
        self.assertEqual(tokens_in + tokens_out, usage["totalTokens"])
        self.assertAlmostEqual(d["cost"], (tokens_in * 1.0 + tokens_out * 2.0) / 1e6, delta=2e-9)

        form = urllib.parse.urlencode({"title": "Tom", "story": "Once upon a time"})
        f = self.srv.post(url, form, key=key, headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(f.status, 200, f)
        self.assertEqual(f.json()[0]["value"], d["value"])  # greedy: same prompt, same answer

        boundary = "----agentd" + uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nTom\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"story\"; filename=\"story.txt\"\r\n"
                f"Content-Type: text/plain\r\n\r\nOnce upon a time\r\n--{boundary}--\r\n")
        m = self.srv.post(url, body, key=key, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        self.assertEqual(m.status, 200, m)
        self.assertEqual(m.json()[0]["value"], d["value"])

        # A binary file is refused, naming the input.
        bin_body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nTom\r\n"
                    f"--{boundary}\r\nContent-Disposition: form-data; name=\"story\"; filename=\"s.bin\"\r\n"
                    f"\r\n").encode() + b"\x00\x01\x02" + f"\r\n--{boundary}--\r\n".encode()
        b = self.srv.post(url, bin_body, key=key,
                          headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        self.assertEqual(b.status, 400, b)
        self.assertIn("story", b.json()["message"])

    def check_missing_input(self):
        key, agent = self.setup_agent()
        url = f"/v1/agents/run/{agent['id']}/"
        r = self.srv.post(url, {"title": "Tom"}, key=key)
        self.assertEqual(r.status, 400, r)
        self.assertIn("story", r.json()["message"])
        r = self.srv.post(url, "title=Tom", key=key, headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(r.status, 400, r)
        self.assertIn("story", r.json()["message"])
        r = self.srv.post("/v1/agents/run/00000000-0000-4000-8000-000000000000/", {"title": "x", "story": "y"},
                          key=key)
        self.assertEqual(r.status, 404, r)
        self.assertIsInstance(r.json()["message"], str)

    def check_versions(self):
        key, agent = self.setup_agent()
        v1 = self.srv.get(f"/v1/agents/{agent['id']}/versions/current/", key=key).json()
        r = self.srv.post(f"/v1/agents/{agent['id']}/versions/",
                          {"version_name": "2.0.0", "input_definitions": [
                              {"key": "only", "data_type": "text/plain", "description": "d", "example": "e"}]},
                          key=key)
        self.assertEqual(r.status, 201, r)
        # The current version wants `only`; version 1 still wants title and story.
        self.assertEqual(self.srv.post(f"/v1/agents/run/{agent['id']}/", {"only": "Once"}, key=key).status, 200)
        r = self.srv.post(f"/v1/agents/run/{agent['id']}/versions/{v1['id']}/", {"only": "Once"}, key=key)
        self.assertEqual(r.status, 400, r)
        r = self.srv.post(f"/v1/agents/run/{agent['id']}/versions/{v1['id']}/", {"title": "a", "story": "b"},
                          key=key)
        self.assertEqual(r.status, 200, r)

    def check_output_schema_enforced_in_few_tokens(self):
        # A random-weight model left to itself does not write a JSON object
        # in 6 tokens; the local engine's grammar makes it (an upstream's
        # answer that is no JSON object is the 500 of RoeUpstreamTest).
        schema = {"type": "object", "properties": {"total": {"type": "number", "description": "Total"}}}
        key, agent = self.setup_agent(engine_config={"model": "tiny-q8", "instructions": "JSON.",
                                                     "temperature": 0.0, "max_tokens": 6,
                                                     "output_schema": schema})
        r = self.srv.post(f"/v1/agents/run/{agent['id']}/", {"title": "Tom", "story": "Once"}, key=key)
        self.assertEqual(r.status, 200, r)
        [datum] = r.json()
        self.assertEqual((datum["key"], datum["description"], datum["data_type"]),
                         ("total", "Total", "application/json"))
        self.assertIsInstance(json.loads(datum["value"]), (int, float))
        self.assertLessEqual(int(r.headers["x-agentd-output-tokens"]), 6)
        self.assertEqual(self.srv.get("/api/v3/agents/usage/", key=key).json()["data"]["totalUsage"], 1)

    def check_credits_and_rate_limits_in_roe_shape(self):
        key, agent = self.setup_agent()
        url = f"/v1/agents/run/{agent['id']}/"
        limited = self.srv.create_key("acme", "--rpm", "1")
        r = self.srv.post(url, {"title": "Tom", "story": "Once"}, key=limited)
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.headers["x-ratelimit-limit"], r.headers["x-ratelimit-remaining"]), ("1", "0"))
        self.assertIn("x-ratelimit-reset", r.headers)
        r = self.srv.post(url, {"title": "Tom", "story": "Once"}, key=limited)
        self.assertEqual(r.status, 429, r)
        self.assertIsInstance(r.json()["message"], str)
        self.assertGreater(int(r.headers["retry-after"]), 0)
        # No credits: 402 {message}, nothing generated, nothing charged.
        poor_org = self.srv.create_org("poor", credits=0)
        poor = self.srv.create_key("poor")
        r = self.srv.post("/v1/agents/", agent_body(poor_org), key=poor)
        self.assertEqual(r.status, 201, r)
        r = self.srv.post(f"/v1/agents/run/{r.json()['id']}/", {"title": "Tom", "story": "Once"}, key=poor)
        self.assertEqual(r.status, 402, r)
        self.assertIn("insufficient credits", r.json()["message"])
        self.assertEqual(self.srv.get("/api/v3/agents/usage/", key=poor).json()["data"]["totalUsage"], 0)

    def wait_job(self, key, job_id, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = self.srv.get(f"/v1/agents/jobs/{job_id}/status/", key=key)
            self.assertEqual(r.status, 200, r)
            if r.json()["status"] in (3, 4, 5):
                return r.json()["status"]
            time.sleep(0.05)
        self.fail(f"job {job_id} did not finish")

    def check_async_lifecycle_and_restart(self):
        key, agent = self.setup_agent()
        base = f"/v1/agents/run/{agent['id']}/"
        # (Short values: the prompt must fit the 128-token context.)
        r = self.srv.post(base + "async/", {"title": "T", "story": "Once"}, key=key)
        self.assertEqual(r.status, 200, r)
        job_id = r.json()  # Roe answers the job id as a bare JSON string
        self.assertIsInstance(job_id, str)
        self.assertEqual(self.wait_job(key, job_id), 3)
        res = self.srv.get(f"/v1/agents/jobs/{job_id}/result/", key=key)
        self.assertEqual(res.status, 200, res)
        out = res.json()
        self.assertEqual(set(out), {"agent_id", "agent_version_id", "inputs", "input_tokens", "output_tokens",
                                    "outputs", "status", "error_message"})
        self.assertEqual(out["agent_id"], agent["id"])
        self.assertEqual([(i["key"], i["value"]) for i in out["inputs"]], [("title", "T"), ("story", "Once")])
        self.assertGreater(out["input_tokens"], 0)
        self.assertLessEqual(out["output_tokens"], 6)
        self.assertEqual([d["key"] for d in out["outputs"]], ["output"])
        self.assertIsInstance(out["outputs"][0]["value"], str)
        # A missing input is refused before any job exists.
        r = self.srv.post(base + "async/", {"title": "Tom"}, key=key)
        self.assertEqual(r.status, 400, r)
        self.assertIn("story", r.json()["message"])
        # Another organization cannot see the job.
        self.srv.create_org("other", credits=5)
        other = self.srv.create_key("other")
        self.assertEqual(self.srv.get(f"/v1/agents/jobs/{job_id}/status/", key=other).status, 404)
        # async/many, then a restart: every job ends in success.
        many = [{"title": f"T{i}", "story": "Hi"} for i in range(6)]
        r = self.srv.post(base + "async/many/", {"inputs": many}, key=key)
        self.assertEqual(r.status, 200, r)
        ids = r.json()  # a JSON array of job ids, in the order of the inputs
        self.assertEqual(len(ids), 6)
        self.srv.stop()
        self.srv.start()
        for i, jid in enumerate(ids):
            self.assertEqual(self.wait_job(key, jid), 3)
            res = self.srv.get(f"/v1/agents/jobs/{jid}/result/", key=key).json()
            self.assertEqual({x["key"]: x["value"] for x in res["inputs"]}, many[i])
        r = self.srv.post(base + "async/many/", {"inputs": [{"title": "x"}]}, key=key)
        self.assertEqual(r.status, 400, r)
        r = self.srv.post(base + "async/many/", {"inputs": [{"title": "x", "story": "y"}] * 1001}, key=key)
        self.assertEqual(r.status, 400, r)


# What the upstream's "schema" behaviour answers (tests/model/openai_upstream_server.py).
SCHEMA_ANSWER = {"total": 42, "label": "ok", "tags": ["a", "b"], "detail": {"x": 1.5}, "done": True}
OUTPUT_SCHEMA = {"type": "object", "properties": {
    "label": {"type": "string", "description": "A label"},
    "total": {"type": "number", "description": "The total"},
    "tags": {"type": "array", "items": {"type": "string"}},
    "detail": {"type": "object"},
    "done": {"type": "boolean"},
}}


class RoeUpstreamTest(ServerTestCase):
    """Roe runs whose model is a real upstream provider on loopback."""

    @classmethod
    def setUpClass(cls):
        cls.upstream = Upstream()
        cls.server_kwargs = {"models": MODELS + [
            cls.upstream.model("json-up", "schema"),
            cls.upstream.model("prose-up", "ok"),
            cls.upstream.model("drip-up", "drip", timeout_s=60),
            cls.upstream.model("echo-up", "echo"),
        ]}

    @classmethod
    def tearDownClass(cls):
        cls.upstream.stop()

    def tenant(self):
        org_id = self.srv.create_org("acme", credits=5)
        return org_id, self.srv.create_key("acme")

    def make_agent(self, org_id, key, model, **engine):
        config = {"model": model, "instructions": "Answer in JSON.", "temperature": 0.0, "max_tokens": 50}
        config.update(engine)
        name = f"agent {uuid.uuid4().hex[:8]}"
        r = self.srv.post("/v1/agents/", agent_body(org_id, name=name, engine_config=config), key=key)
        self.assertEqual(r.status, 201, r)
        return r.json()["id"]

    def check_output_schema_success(self):
        org_id, key = self.tenant()
        agent_id = self.make_agent(org_id, key, "json-up", output_schema=OUTPUT_SCHEMA)
        r = self.srv.post(f"/v1/agents/run/{agent_id}/", {"title": "Tom", "story": "Once"}, key=key)
        self.assertEqual(r.status, 200, r)
        out = r.json()
        # One datum per top-level property, in the schema's order.
        self.assertEqual([d["key"] for d in out], list(OUTPUT_SCHEMA["properties"]))
        for d in out:
            self.assertEqual(set(d), {"key", "description", "data_type", "value", "cost"})
            self.assertIsInstance(d["value"], str, d)  # serialized as a string
            expected = SCHEMA_ANSWER[d["key"]]
            if isinstance(expected, str):
                self.assertEqual(d["value"], expected)
                self.assertEqual(d["data_type"], "text/plain")
            else:
                self.assertEqual(json.loads(d["value"]), expected)  # JSON text of the value
                self.assertEqual(d["data_type"], "application/json")
        self.assertEqual(out[0]["description"], "A label")
        self.assertEqual(out[1]["description"], "The total")
        self.assertEqual(out[1]["value"], "42")
        self.assertEqual(out[4]["value"], "true")
        # The upstream's usage (20 in, 12 out at $1 / $2 per million) is the
        # run's cost, carried by the first datum.
        self.assertAlmostEqual(out[0]["cost"], 20e-6 + 24e-6, delta=1e-12)
        self.assertEqual([d["cost"] for d in out[1:]], [0.0] * 4)

    def check_async_job_prompt_is_the_sync_runs(self):
        # The upstream echoes what it was sent: a job sends what the same sync run sends.
        org_id, key = self.tenant()
        schema = {"type": "object", "properties": {"body": {"type": "object"}}}
        agent_id = self.make_agent(org_id, key, "echo-up", output_schema=schema)
        plain_id = self.make_agent(org_id, key, "echo-up")
        inputs = {"title": "Tom", "story": "Once upon a time"}
        r = self.srv.post(f"/v1/agents/run/{plain_id}/", inputs, key=key)
        self.assertEqual(r.status, 200, r)
        sync_seen = json.loads(r.json()[0]["value"])
        messages = sync_seen["body"]["messages"]
        self.assertEqual(messages, [{"role": "system", "content": "Answer in JSON."},
                                    {"role": "user", "content": "title:\nTom\n\nstory:\nOnce upon a time"}])
        job = self.srv.post(f"/v1/agents/run/{plain_id}/async/", inputs, key=key).json()
        self.assertEqual(self.wait_status(key, job, (3, 4)), 3)
        out = self.srv.get(f"/v1/agents/jobs/{job}/result/", key=key).json()
        self.assertEqual(json.loads(out["outputs"][0]["value"])["body"]["messages"], messages)
        # With an output schema, sync and async runs both ask for JSON matching it.
        # (The echo is a JSON object whose "body" property the schema asks for.)
        job = self.srv.post(f"/v1/agents/run/{agent_id}/async/", inputs, key=key).json()
        self.assertEqual(self.wait_status(key, job, (3, 4)), 3)
        outputs = self.srv.get(f"/v1/agents/jobs/{job}/result/", key=key).json()["outputs"]
        self.assertEqual([(d["key"], d["data_type"]) for d in outputs], [("body", "application/json")])
        system = json.loads(outputs[0]["value"])["messages"][0]["content"]
        self.assertTrue(system.startswith("Answer in JSON.\n\nAnswer with one JSON object only, matching this "
                                          "JSON schema: "), system)
        self.assertEqual(json.loads(system.split("JSON schema: ", 1)[1]), schema)
        r = self.srv.post(f"/v1/agents/run/{agent_id}/", inputs, key=key)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(json.loads(r.json()[0]["value"])["messages"][0]["content"], system)

    def check_output_schema_answer_not_json(self):
        org_id, key = self.tenant()
        agent_id = self.make_agent(org_id, key, "prose-up", output_schema=OUTPUT_SCHEMA)
        r = self.srv.post(f"/v1/agents/run/{agent_id}/", {"title": "Tom", "story": "Once"}, key=key)
        self.assertEqual(r.status, 500, r)
        # The upstream was asked twice (a retry when the first answer broke the format), then the 500 says why.
        self.assertIn("answered outside the response format twice: the answer is not JSON", r.json()["message"])
        # Without a schema the same answer is the one text datum.
        plain = self.make_agent(org_id, key, "prose-up")
        r = self.srv.post(f"/v1/agents/run/{plain}/", {"title": "Tom", "story": "Once"}, key=key)
        self.assertEqual(r.status, 200, r)
        self.assertEqual([(d["key"], d["value"]) for d in r.json()], [("output", "Hello world")])

    def status(self, key, job_id):
        r = self.srv.get(f"/v1/agents/jobs/{job_id}/status/", key=key)
        self.assertEqual(r.status, 200, r)
        return r.json()["status"]

    def wait_status(self, key, job_id, wanted, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.status(key, job_id) in wanted:
                return self.status(key, job_id)
            time.sleep(0.02)
        self.fail(f"job {job_id} never reached {wanted}")

    def check_job_cancel(self):
        org_id, key = self.tenant()
        drip = self.make_agent(org_id, key, "drip-up")
        fast = self.make_agent(org_id, key, "json-up")
        before = self.srv.cli("org", "show", "acme").stdout
        inputs = {"title": "T", "story": "Once"}
        # Two jobs that generate until cancelled take both job workers...
        running = [self.srv.post(f"/v1/agents/run/{drip}/async/", inputs, key=key).json() for _ in range(2)]
        for job_id in running:
            self.assertEqual(self.wait_status(key, job_id, (1,)), 1)
        # ...so a third one stays pending.
        r = self.srv.post(f"/v1/agents/run/{drip}/async/", inputs, key=key)
        self.assertEqual(r.status, 200, r)
        pending = r.json()
        self.assertEqual(self.status(key, pending), 0)

        # Another organization cannot see or cancel it.
        self.srv.create_org("other", credits=5)
        other = self.srv.create_key("other")
        r = self.srv.post(f"/v1/agents/jobs/{pending}/cancel/", key=other)
        self.assertEqual(r.status, 404, r)
        self.assertIsInstance(r.json()["message"], str)
        self.assertEqual(self.srv.post("/v1/agents/jobs/no-such-job/cancel/", key=key).status, 404)

        # A pending job is cancelled at once (204, as Roe answers).
        r = self.srv.post(f"/v1/agents/jobs/{pending}/cancel/", key=key)
        self.assertEqual((r.status, r.body), (204, b""))
        self.assertEqual(self.status(key, pending), 5)
        r = self.srv.get(f"/v1/agents/jobs/{pending}/result/", key=key)
        self.assertEqual((r.status, r.json()["status"], r.json()["outputs"]), (200, 5, []))

        # Running jobs are marked cancelled at once; their generation stops.
        for job_id in running:
            r = self.srv.post(f"/v1/agents/jobs/{job_id}/cancel/", key=key)
            self.assertEqual(r.status, 204, r)
        # Both runs end at the next chunk the provider streams; each is
        # recorded as cancelled and charged what was streamed until then.
        deadline = time.time() + 30
        while (usage := self.srv.get("/api/v3/agents/usage/", key=key).json()["data"])["totalUsage"] < 2:
            self.assertLess(time.time(), deadline, "the cancelled runs were never recorded")
            time.sleep(0.02)
        drip_usage = usage["usageByModel"]["drip-up"]
        self.assertGreaterEqual(drip_usage["output_tokens"], 2)  # at least one "tick " each
        self.assertGreater(drip_usage["cost"], 0)
        spent = json.loads(before)["credits"] - json.loads(self.srv.cli("org", "show", "acme").stdout)["credits"]
        self.assertAlmostEqual(spent, drip_usage["cost"], places=9)
        self.assertIn('agentd_runs_total{endpoint="roe.async",outcome="cancelled"} 2', self.srv.get("/metrics").text)
        for job_id in running:
            self.assertEqual(self.status(key, job_id), 5)

        # The workers are free again: a later job runs, the cancelled one never did.
        r = self.srv.post(f"/v1/agents/run/{fast}/async/", inputs, key=key)
        done = r.json()
        self.assertEqual(self.wait_status(key, done, (3, 4)), 3)
        asked = {rid for _, rid, _ in self.upstream.seen()}
        self.assertIn(done, asked)
        self.assertTrue(set(running) <= asked)
        self.assertNotIn(pending, asked)
        self.assertEqual(self.status(key, pending), 5)

        # A finished job cannot be cancelled: 409 in Roe's shape.
        r = self.srv.post(f"/v1/agents/jobs/{done}/cancel/", key=key)
        self.assertEqual(r.status, 409, r)
        self.assertEqual(r.json()["status"], 3)
        self.assertIn("already ended", r.json()["message"])
        r = self.srv.post(f"/v1/agents/jobs/{pending}/cancel/", key=key)
        self.assertEqual((r.status, r.json()["status"]), (409, 5))
        metrics = self.srv.get("/metrics").text
        self.assertIn('agentd_jobs_total{outcome="cancelled"} 2', metrics)



class JobCancelAcrossProcessesTest(unittest.TestCase):
    """Two agentd processes on one PostgreSQL database: a job running in one
    is cancelled through the other, and its generation stops there."""

    def test_postgres_two_processes(self):
        upstream = Upstream()
        try:
            models = MODELS + [upstream.model("drip-up", "drip", timeout_s=60)]
            with Server(backend="postgres", models=models) as a, Server(db_url=a.db_url, models=models) as b:
                org_id = a.create_org("acme", credits=5)
                key = a.create_key("acme")
                config = {"model": "drip-up", "instructions": "Go on.", "temperature": 0.0, "max_tokens": 50}
                r = a.post("/v1/agents/", agent_body(org_id, engine_config=config), key=key)
                self.assertEqual(r.status, 201, r)
                agent_id = r.json()["id"]
                job_id = a.post(f"/v1/agents/run/{agent_id}/async/", {"title": "T", "story": "Once"},
                                key=key).json()
                deadline = time.time() + 30
                while b.get(f"/v1/agents/jobs/{job_id}/status/", key=key).json()["status"] != 1:
                    self.assertLess(time.time(), deadline, "the job never started")
                    time.sleep(0.02)
                r = b.post(f"/v1/agents/jobs/{job_id}/cancel/", key=key)
                self.assertEqual(r.status, 204, r)
                # The drip upstream streams until its client goes away (60 s):
                # the run is recorded only once process a stops the generation.
                while a.get("/api/v3/agents/usage/", key=key).json()["data"]["totalUsage"] < 1:
                    self.assertLess(time.time(), deadline, "the job running in process a never stopped")
                    time.sleep(0.05)
                self.assertEqual(a.get(f"/v1/agents/jobs/{job_id}/status/", key=key).json()["status"], 5)
        finally:
            upstream.stop()


if __name__ == "__main__":
    unittest.main()
