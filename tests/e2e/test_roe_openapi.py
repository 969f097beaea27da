"""Every Roe route agentd serves, checked against the shapes of Roe's own
OpenAPI document (roe_openapi.py holds the fragments and says where they come
from): agents (create, list, retrieve, PATCH, PUT, duplicate), versions (list,
create, retrieve, current, PATCH, PUT, DELETE), async runs and their jobs
(status, result, the batch status/result routes the SDK's JobBatch.wait
uses, the job list, cancel, cancel-all, delete-data), discovery (models,
types) and the current user; errors as Roe's ErrorDetailResponse. Also what
the answers mean: job_count and most_recent_job come from the stored jobs,
refused input changes nothing, unknown fields are refused by name."""

import json
import time
import uuid

from harness import STORIES, ServerTestCase, Upstream
from roe_openapi import (ASYNC_MANY_200, ASYNC_RUN_200, RESULTS_200, RUN_200, STATUSES_200, VERSIONS_200,
                         problems)

OUTPUT_SCHEMA = {"type": "object", "properties": {
    "label": {"type": "string", "description": "A label"},
    "total": {"type": "number", "description": "The total"},
}}
DEFS = [{"key": "title", "data_type": "text/plain", "description": "Title", "example": "Tom"},
        {"key": "story", "data_type": "text/plain", "description": "Story text", "example": "Once"}]


class RoeOpenApiTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.upstream = Upstream()
        cls.server_kwargs = {"models": [
            {"id": "stories", "name": "Stories 260K", "backend": "local", "path": STORIES,
             "context": 128, "price_input_per_mtok": 1.0, "price_output_per_mtok": 2.0},
            cls.upstream.model("json-up", "schema"),
            cls.upstream.model("prose-up", "ok"),
            cls.upstream.model("drip-up", "drip", timeout_s=60),
        ]}

    @classmethod
    def tearDownClass(cls):
        cls.upstream.stop()

    # ---- helpers ----

    def conforms(self, value, schema):
        found = problems(value, schema)
        self.assertEqual(found, [], json.dumps(value, indent=1)[:3000])
        return value

    def ok(self, r, status, schema):
        self.assertEqual(r.status, status, r.text[:2000])
        return self.conforms(r.json(), schema)

    def error(self, r, status, field=None):
        self.assertEqual(r.status, status, r.text[:2000])
        body = self.conforms(r.json(), "ErrorDetailResponse")
        self.assertEqual(body["message"], body["detail"])  # kept beside it for older clients
        if field:
            self.assertIn(field, body["detail"])
        return body

    def tenant(self, name="acme"):
        org_id = self.srv.create_org(name, credits=5)
        return org_id, self.srv.create_key(name)

    def create(self, org_id, key, name="Invoice Reader", model="json-up", **over):
        body = {"name": name, "engine_class_id": "MultimodalExtractionEngine", "organization_id": org_id,
                "input_definitions": DEFS, "version_name": "v1", "description": "Initial version",
                "engine_config": {"model": model, "instruction": "Answer in JSON.", "temperature": "0.0",
                                  "max_tokens": 40, "output_schema": json.dumps(OUTPUT_SCHEMA)}}
        body.update(over)
        return self.ok(self.srv.post(f"/v1/agents/?organization_id={org_id}", body, key=key), 201, "BaseAgent")

    def wait(self, key, job_id, wanted=(3, 4, 5), timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            st = self.ok(self.srv.get(f"/v1/agents/jobs/{job_id}/status/", key=key), 200, "AgentJobSingleStatus")
            if st["status"] in wanted:
                return st
            time.sleep(0.02)
        self.fail(f"job {job_id} never reached {wanted}")

    # ---- agents ----

    def check_agents(self):
        org_id, key = self.tenant()
        me = self.ok(self.srv.get("/v1/users/current_user/", key=key), 200, "User")
        a = self.create(org_id, key)
        self.assertEqual((a["name"], a["organization_id"], a["engine_class_id"]),
                         ("invoice_reader", org_id, "MultimodalExtractionEngine"))
        self.assertEqual(a["engine_name"], "Multimodal Extraction")
        self.assertEqual((a["disable_cache"], a["cache_failed_jobs"], a["tags"]), (False, False, []))
        self.assertEqual((a["job_count"], a["most_recent_job"]), (0, None))
        self.assertEqual(a["creator"]["id"], me["id"])  # the key that created it
        # Roe's string-valued engine_config is read as numbers and a schema.
        self.assertEqual(a["engine_config"]["temperature"], 0.0)
        self.assertEqual(a["engine_config"]["output_schema"], OUTPUT_SCHEMA)

        got = self.ok(self.srv.get(f"/v1/agents/{a['id']}/?organization_id={org_id}", key=key), 200, "BaseAgent")
        self.assertEqual(got, a)
        listed = self.ok(self.srv.get(f"/v1/agents/?organization_id={org_id}&page=1&page_size=10", key=key), 200,
                         "PaginatedBaseAgentList")
        self.assertEqual([x["id"] for x in listed["results"]], [a["id"]])

        r = self.srv.patch(f"/v1/agents/{a['id']}/", {"name": "Receipt Reader", "disable_cache": True}, key=key)
        p = self.ok(r, 200, "BaseAgent")
        self.assertEqual((p["name"], p["disable_cache"], p["cache_failed_jobs"]), ("receipt_reader", True, False))
        r = self.srv.put(f"/v1/agents/{a['id']}/", {"cache_failed_jobs": True}, key=key)
        p = self.ok(r, 200, "BaseAgent")
        self.assertEqual((p["name"], p["disable_cache"], p["cache_failed_jobs"]), ("receipt_reader", True, True))

        # Refused updates change nothing.
        self.error(self.srv.patch(f"/v1/agents/{a['id']}/", {"name": "x", "tagz": []}, key=key), 400, "tagz")
        self.error(self.srv.patch(f"/v1/agents/{a['id']}/", {"name": "   "}, key=key), 400, "name")
        self.error(self.srv.put(f"/v1/agents/{a['id']}/", {"engine_class_id": "WebScraperEngine",
                                                          "disable_cache": False}, key=key), 400, "engine_class_id")
        after = self.ok(self.srv.get(f"/v1/agents/{a['id']}/", key=key), 200, "BaseAgent")
        self.assertEqual((after["name"], after["disable_cache"], after["engine_class_id"]),
                         ("receipt_reader", True, "MultimodalExtractionEngine"))
        # Unknown fields and engines on create: 400 naming them, no agent made.
        self.error(self.srv.post("/v1/agents/", {"name": "b", "engine_class_id": "MultimodalExtractionEngine",
                                                 "policy_id": "p"}, key=key), 400, "policy_id")
        self.error(self.srv.post("/v1/agents/", {"name": "b", "engine_class_id": "Nope"}, key=key), 400,
                   "engine_class_id")
        self.assertEqual(self.srv.get("/v1/agents/", key=key).json()["count"], 1)
        # Roe filters agentd does not offer are refused by name, not ignored.
        self.error(self.srv.get("/v1/agents/?tags=x", key=key), 400, "tags")

        dup = self.ok(self.srv.post(f"/v1/agents/{a['id']}/duplicate/?organization_id={org_id}", key=key), 201,
                      "AgentVersion")
        self.assertEqual(dup["base_agent"]["name"], "receipt_reader_copy")
        self.assertNotEqual(dup["base_agent"]["id"], a["id"])
        self.assertEqual(dup["base_agent"]["current_version_id"], dup["id"])
        self.assertEqual(dup["engine_config"]["output_schema"], OUTPUT_SCHEMA)
        self.assertEqual(dup["input_definitions"][0]["key"], "title")
        self.assertEqual(self.srv.get("/v1/agents/", key=key).json()["count"], 2)

        self.assertEqual(self.srv.delete(f"/v1/agents/{dup['base_agent']['id']}/", key=key).status, 204)
        self.error(self.srv.get(f"/v1/agents/{dup['base_agent']['id']}/", key=key), 404)
        self.error(self.srv.get(f"/v1/agents/{a['id']}/?organization_id={uuid.uuid4()}", key=key), 403)
        self.error(self.srv.get("/v1/agents/", key="agd_nope"), 401)
        self.error(self.srv.get("/v1/agents/nope/nothing/", key=key), 404)

    # ---- versions ----

    def check_versions(self):
        org_id, key = self.tenant()
        a = self.create(org_id, key)
        base = f"/v1/agents/{a['id']}/versions/"
        listed = self.ok(self.srv.get(base, key=key), 200, VERSIONS_200)
        self.assertEqual([v["id"] for v in listed], [a["current_version_id"]])
        self.assertEqual(listed[0]["base_agent"]["id"], a["id"])
        self.assertEqual(listed[0]["description"], "Initial version")
        v2 = self.ok(self.srv.post(base, {"version_name": "v2", "description": "terser",
                                          "input_definitions": DEFS,
                                          "engine_config": {"instruction": "Only JSON."}}, key=key),
                     201, "AgentVersion")
        self.assertEqual((v2["version_name"], v2["engine_config"]["instructions"]), ("v2", "Only JSON."))
        self.assertEqual(v2["engine_config"]["model"], "json-up")  # carried over
        cur = self.ok(self.srv.get(base + "current/", key=key), 200, "AgentVersion")
        self.assertEqual(cur["id"], v2["id"])
        one = self.ok(self.srv.get(base + listed[0]["id"] + "/", key=key), 200, "AgentVersion")
        self.assertEqual(one["version_name"], "v1")

        self.ok(self.srv.patch(base + v2["id"] + "/", {"version_name": "v2.1"}, key=key), 200, "MessageResponse")
        self.ok(self.srv.put(base + v2["id"] + "/", {"description": "terse"}, key=key), 200, "MessageResponse")
        got = self.srv.get(base + v2["id"] + "/", key=key).json()
        self.assertEqual((got["version_name"], got["description"]), ("v2.1", "terse"))
        # A version's configuration does not change in place: 400, unchanged.
        self.error(self.srv.patch(base + v2["id"] + "/", {"engine_config": {"model": "prose-up"}}, key=key), 400,
                   "engine_config")
        self.error(self.srv.patch(base + v2["id"] + "/", {"version_name": ""}, key=key), 400, "version_name")
        self.assertEqual(self.srv.get(base + v2["id"] + "/", key=key).json()["engine_config"]["model"], "json-up")

        # The current version cannot be deleted; another one can.
        self.error(self.srv.delete(base + v2["id"] + "/", key=key), 409)
        self.assertEqual(self.srv.delete(base + listed[0]["id"] + "/", key=key).status, 204)
        self.error(self.srv.get(base + listed[0]["id"] + "/", key=key), 404)
        self.error(self.srv.delete(base + listed[0]["id"] + "/", key=key), 404)
        self.assertEqual([v["id"] for v in self.srv.get(base, key=key).json()], [v2["id"]])

    # ---- runs and jobs ----

    def check_runs_and_jobs(self):
        org_id, key = self.tenant()
        a = self.create(org_id, key)
        inputs = {"title": "Tom", "story": "Once upon a time"}
        out = self.ok(self.srv.post(f"/v1/agents/run/{a['id']}/", inputs, key=key), 200, RUN_200)
        self.assertEqual([d["key"] for d in out], ["label", "total"])
        self.error(self.srv.post(f"/v1/agents/run/{a['id']}/", {**inputs, "extra": "x"}, key=key), 400, "extra")
        self.error(self.srv.post(f"/v1/agents/run/{a['id']}/", {"title": "Tom"}, key=key), 400, "story")

        job = self.ok(self.srv.post(f"/v1/agents/run/{a['id']}/async/?organization_id={org_id}",
                                    {**inputs, "metadata": {"batch": "b1"}}, key=key), 200, ASYNC_RUN_200)
        self.assertEqual(problems(job, {"type": "string", "format": "uuid"}), [])
        st = self.wait(key, job)
        self.assertEqual(st["status"], 3)
        self.assertNotIn("error_message", st)
        res = self.ok(self.srv.get(f"/v1/agents/jobs/{job}/result/", key=key), 200, "AgentJobResultResponse")
        self.assertEqual((res["agent_id"], res["agent_version_id"], res["status"]),
                         (a["id"], a["current_version_id"], 3))
        for item in res["inputs"]:
            self.conforms(item, "JobInput")
        self.assertEqual([(i["key"], i["value"]) for i in res["inputs"]], list(inputs.items()))
        self.assertEqual([d["key"] for d in res["outputs"]], ["label", "total"])
        self.assertEqual(json.loads(res["outputs"][1]["value"]), 42)
        self.assertGreater(res["input_tokens"], 0)

        v = self.srv.get(f"/v1/agents/{a['id']}/versions/current/", key=key).json()
        vjob = self.ok(self.srv.post(f"/v1/agents/run/{a['id']}/versions/{v['id']}/async/", inputs, key=key), 200,
                       ASYNC_RUN_200)
        many = self.ok(self.srv.post(f"/v1/agents/run/{a['id']}/async/many/",
                                     {"inputs": [inputs, {"title": "Ann", "story": "Later"}]}, key=key),
                       200, ASYNC_MANY_200)
        self.assertEqual(len(many), 2)
        # A bad item refuses the whole request: no job is made.
        self.error(self.srv.post(f"/v1/agents/run/{a['id']}/async/many/",
                                 {"inputs": [inputs, {"title": "Ann"}]}, key=key), 400, "inputs[1].story")
        ids = [job, vjob] + many
        for jid in ids:
            self.wait(key, jid)

        # The batch routes JobBatch.wait polls: one item per id, in order;
        # an id that is no job of this organization has null fields.
        ghost = str(uuid.uuid4())
        sts = self.ok(self.srv.post("/v1/agents/jobs/statuses/", {"job_ids": ids + [ghost]}, key=key), 200,
                      STATUSES_200)
        self.assertEqual([s["id"] for s in sts], ids + [ghost])
        self.assertEqual([s["status"] for s in sts], [3, 3, 3, 3, None])
        rs = self.ok(self.srv.post("/v1/agents/jobs/results/", {"job_ids": ids + [ghost]}, key=key), 200,
                     RESULTS_200)
        self.assertEqual([r["id"] for r in rs], ids + [ghost])
        self.assertEqual(rs[3]["inputs"][0]["value"], "Ann")
        self.assertEqual([d["key"] for d in rs[0]["result"]], ["label", "total"])
        self.assertIsNone(rs[4]["agent_id"])
        self.error(self.srv.post("/v1/agents/jobs/statuses/", {"job_ids": ["nope"]}, key=key), 400, "job_ids[0]")
        self.error(self.srv.post("/v1/agents/jobs/statuses/", {"job_ids": []}, key=key), 400, "job_ids")

        # job_count and most_recent_job come from the stored jobs.
        agent = self.ok(self.srv.get(f"/v1/agents/{a['id']}/", key=key), 200, "BaseAgent")
        self.assertEqual(agent["job_count"], 4)
        self.assertIsNotNone(agent["most_recent_job"])
        lean = self.srv.get("/v1/agents/?include_job_stats=false", key=key).json()["results"][0]
        self.assertEqual((lean["job_count"], lean["most_recent_job"]), (None, None))

        jobs = self.ok(self.srv.get(f"/v1/agents/{a['id']}/jobs/?page_size=3&limit=100000", key=key), 200,
                       "PaginatedListAgentJobList")
        self.assertEqual(jobs["count"], 4)
        self.assertEqual([j["id"] for j in jobs["results"]], list(reversed(ids))[:3])  # newest first
        self.assertIsNotNone(jobs["next"])
        first = next(j for j in self.srv.get(f"/v1/agents/{a['id']}/jobs/?page_size=10", key=key).json()["results"]
                     if j["id"] == job)
        self.assertEqual((first["status_code"], first["metadata"]), (3, {"batch": "b1"}))
        self.assertEqual(first["agent_version_name"], "v1")
        only_failed = self.srv.get(f"/v1/agents/{a['id']}/jobs/?status_code=4", key=key).json()
        self.assertEqual(only_failed["count"], 0)
        self.error(self.srv.get(f"/v1/agents/{a['id']}/jobs/?search=x", key=key), 400, "search")

        # delete-data empties an ended job's inputs and outputs; it stays listed.
        self.ok(self.srv.post(f"/v1/agents/jobs/{job}/delete-data/", key=key), 200, "AgentJobDeleteDataResponse")
        res = self.ok(self.srv.get(f"/v1/agents/jobs/{job}/result/", key=key), 200, "AgentJobResultResponse")
        self.assertEqual((res["inputs"], res["outputs"], res["status"]), ([], [], 3))

        # A failed job: status 4 with its error; the result has no outputs.
        bad = self.create(org_id, key, name="Prose", model="prose-up")
        fj = self.srv.post(f"/v1/agents/run/{bad['id']}/async/", inputs, key=key).json()
        st = self.wait(key, fj)
        self.assertEqual(st["status"], 4)
        self.assertIn("outside the response format", st["error_message"])
        res = self.ok(self.srv.get(f"/v1/agents/jobs/{fj}/result/", key=key), 200, "AgentJobResultResponse")
        self.assertEqual((res["outputs"], res["status"]), ([], 4))
        self.assertIn("outside the response format", res["error_message"])

        # Another organization sees none of it.
        _, other = self.tenant("other")
        self.error(self.srv.get(f"/v1/agents/jobs/{job}/status/", key=other), 404)
        self.error(self.srv.get(f"/v1/agents/jobs/{job}/result/", key=other), 404)
        self.error(self.srv.get(f"/v1/agents/jobs/{job}/status/?organization_id={uuid.uuid4()}", key=key), 403)
        self.assertEqual(self.srv.post("/v1/agents/jobs/statuses/", {"job_ids": [job]}, key=other).json()[0]["status"],
                         None)

    def check_cancel(self):
        org_id, key = self.tenant()
        drip = self.create(org_id, key, name="Drip", model="drip-up", engine_config={
            "model": "drip-up", "instruction": "Go on.", "max_tokens": 50})
        inputs = {"title": "T", "story": "Once"}
        jobs = [self.srv.post(f"/v1/agents/run/{drip['id']}/async/", inputs, key=key).json() for _ in range(3)]
        # Two take both workers; the third waits.
        for jid in jobs[:2]:
            self.wait(key, jid, (1,))
        r = self.srv.post(f"/v1/agents/jobs/{jobs[0]}/cancel/", key=key)
        self.assertEqual((r.status, r.body), (204, b""))
        st = self.wait(key, jobs[0], (5,))
        self.assertIsInstance(st["error_message"], str)
        all_ = self.ok(self.srv.post(f"/v1/agents/{drip['id']}/jobs/cancel-all/?organization_id={org_id}", key=key),
                       200, "AgentJobCancelAllResponse")
        self.assertEqual(all_["targeted_count"], 2)
        for jid in jobs:
            self.assertEqual(self.wait(key, jid, (5,))["status"], 5)
        # Ended jobs: cancel is 409, cancel-all finds nothing.
        self.error(self.srv.post(f"/v1/agents/jobs/{jobs[1]}/cancel/", key=key), 409)
        self.assertEqual(self.srv.post(f"/v1/agents/{drip['id']}/jobs/cancel-all/", key=key).json()["targeted_count"],
                         0)
        self.error(self.srv.post(f"/v1/agents/jobs/{uuid.uuid4()}/cancel/", key=key), 404)

    def check_delete_data_of_a_running_job(self):
        org_id, key = self.tenant()
        drip = self.create(org_id, key, name="Drip", model="drip-up", engine_config={
            "model": "drip-up", "instruction": "Go on.", "max_tokens": 50})
        jid = self.srv.post(f"/v1/agents/run/{drip['id']}/async/", {"title": "T", "story": "Once"}, key=key).json()
        self.wait(key, jid, (1,))
        r = self.srv.post(f"/v1/agents/jobs/{jid}/delete-data/", key=key)
        self.assertEqual(r.status, 400, r.text)
        self.conforms(r.json(), "ApiErrorResponse")
        res = self.srv.get(f"/v1/agents/jobs/{jid}/result/", key=key).json()
        self.assertEqual(res["inputs"][0]["value"], "T")  # untouched
        self.assertEqual(self.srv.post(f"/v1/agents/jobs/{jid}/cancel/", key=key).status, 204)

    # ---- discovery ----

    def check_discovery(self):
        _, key = self.tenant()
        models = self.ok(self.srv.get("/v1/agents/models/", key=key), 200, "SupportedLLMModelList")
        self.assertEqual([m["id"] for m in models["models"]], ["stories", "json-up", "prose-up", "drip-up"])
        self.assertEqual(models["models"][0]["context_window"], 128)
        self.assertEqual(models["total_count"], 4)
        self.assertEqual(self.srv.get("/v1/agents/models/?capability=image", key=key).json()["models"], [])
        self.error(self.srv.get("/v1/agents/models/?capability=smell", key=key), 400, "capability")
        types = self.ok(self.srv.get("/v1/agents/types/", key=key), 200, "AgentEngineTypeList")
        self.assertIn("MultimodalExtractionEngine", types["engine_types"])
        self.assertEqual(types["total_count"], len(types["engine_types"]))
        me = self.ok(self.srv.get("/v1/users/current_user/", key=key), 200, "User")
        self.assertEqual(self.srv.get("/v1/users/current_user/", key=key).json(), me)  # stable
        _, other = self.tenant("other")
        self.assertNotEqual(self.srv.get("/v1/users/current_user/", key=other).json()["id"], me["id"])
        self.error(self.srv.get("/v1/users/current_user/"), 401)
        # Roe features a self-hosted server lacks: Roe's error shape, saying so.
        for path in ("/v1/connections/", "/v1/policies/", f"/v1/knowledge-base/{uuid.uuid4()}/", "/v1/tables/"):
            body = self.error(self.srv.get(path, key=key), 501)
            self.assertIn("agentd does not offer", body["detail"])


if __name__ == "__main__":
    import unittest
    unittest.main()
