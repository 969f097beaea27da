"""Roe-style management API (/v1/agents/.../, trailing slash): CRUD, list
pagination and search, versions, organization checks, {message} errors."""

import unittest
import urllib.parse
import uuid

from harness import ServerTestCase

UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def tenant(srv, org="acme"):
    org_id = srv.create_org(org, credits=5)
    return org_id, srv.create_key(org)


def agent_body(org_id, name="Invoice Reader", **over):
    body = {
        "name": name,
        "organization_id": org_id,
        "description": "Reads invoices",
        "input_definitions": [{"key": "text", "data_type": "text/plain", "description": "Invoice text",
                               "example": "Invoice #1"}],
        "engine_config": {"model": "tiny-q8", "instructions": "Extract the total.", "temperature": 0.3,
                          "max_tokens": 64, "output_schema": {"type": "object"}, "custom_flag": True},
        "version_name": "1.0.0",
    }
    body.update(over)
    return body


class RoeTest(ServerTestCase):
    def assert_message(self, r, status, field=None):
        self.assertEqual(r.status, status, r)
        body = r.json()
        self.assertIsInstance(body["message"], str)
        if field:
            self.assertEqual(body.get("field"), field, r)
            self.assertIn(field, body["message"])

    def check_crud(self):
        org_id, key = tenant(self.srv)
        r = self.srv.post("/v1/agents/", agent_body(org_id), key=key)
        self.assertEqual(r.status, 201, r)
        a = r.json()
        self.assertRegex(a["id"], UUID_RE)
        self.assertEqual(a["name"], "invoice_reader")
        self.assertEqual(a["organization_id"], org_id)
        self.assertEqual(a["description"], "Reads invoices")
        self.assertEqual(a["version_name"], "1.0.0")
        self.assertEqual(a["input_definitions"],
                         [dict(d, accepts_multiple_files=False) for d in agent_body(org_id)["input_definitions"]])
        ec = a["engine_config"]
        self.assertEqual((ec["model"], ec["instructions"], ec["temperature"], ec["max_tokens"]),
                         ("tiny-q8", "Extract the total.", 0.3, 64))
        self.assertEqual(ec["output_schema"], {"type": "object"})
        self.assertIs(ec["custom_flag"], True)  # unknown engine_config keys are kept
        self.assertRegex(a["current_version_id"], UUID_RE)

        r = self.srv.get(f"/v1/agents/{a['id']}/", key=key)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), a)

        r = self.srv.patch(f"/v1/agents/{a['id']}/", {"description": "Reads receipts",
                                                      "engine_config": {"temperature": 1.1}}, key=key)
        self.assertEqual(r.status, 200, r)
        got = self.srv.get(f"/v1/agents/{a['id']}/", key=key).json()
        self.assertEqual(got["description"], "Reads receipts")
        self.assertEqual(got["engine_config"]["temperature"], 1.1)
        self.assertEqual(got["engine_config"]["instructions"], "Extract the total.")

        r = self.srv.delete(f"/v1/agents/{a['id']}/", key=key)
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.body, b"")
        self.assert_message(self.srv.get(f"/v1/agents/{a['id']}/", key=key), 404)
        self.assert_message(self.srv.delete(f"/v1/agents/{a['id']}/", key=key), 404)

    def check_list_pagination_and_search(self):
        org_id, key = tenant(self.srv)
        names = ["alpha", "beta", "gamma", "delta", "alpha_two"]
        for n in names:
            self.assertEqual(self.srv.post("/v1/agents/", agent_body(org_id, n), key=key).status, 201)
        r = self.srv.get(f"/v1/agents/?organization_id={org_id}&page=1&page_size=2", key=key)
        self.assertEqual(r.status, 200, r)
        p1 = r.json()
        self.assertEqual(set(p1), {"count", "next", "previous", "results"})
        self.assertEqual(p1["count"], 5)
        self.assertEqual(len(p1["results"]), 2)
        self.assertIsNone(p1["previous"])
        nxt = urllib.parse.urlsplit(p1["next"])
        self.assertEqual(nxt.netloc, f"127.0.0.1:{self.srv.port}")
        q = urllib.parse.parse_qs(nxt.query)
        self.assertEqual((q["page"], q["page_size"], q["organization_id"]), (["2"], ["2"], [org_id]))
        p2 = self.srv.get(nxt.path + "?" + nxt.query, key=key).json()
        self.assertEqual(len(p2["results"]), 2)
        self.assertIsNotNone(p2["previous"])
        p3 = self.srv.get("/v1/agents/?page=3&page_size=2", key=key).json()
        self.assertEqual(len(p3["results"]), 1)
        self.assertIsNone(p3["next"])
        self.assertEqual(urllib.parse.parse_qs(urllib.parse.urlsplit(p3["previous"]).query)["page"], ["2"])
        seen = [x["name"] for x in p1["results"] + p2["results"] + p3["results"]]
        self.assertEqual(sorted(seen), sorted(names))

        s = self.srv.get("/v1/agents/?search=ALPHA", key=key).json()
        self.assertEqual(s["count"], 2)
        self.assertEqual(sorted(x["name"] for x in s["results"]), ["alpha", "alpha_two"])
        self.assert_message(self.srv.get("/v1/agents/?page=0", key=key), 400, "page")
        self.assert_message(self.srv.get("/v1/agents/?page_size=x", key=key), 400, "page_size")

    def check_versions(self):
        org_id, key = tenant(self.srv)
        a = self.srv.post("/v1/agents/", agent_body(org_id), key=key).json()
        base = f"/v1/agents/{a['id']}/versions/"
        r = self.srv.post(base, {"version_name": "2.0.0", "description": "terser",
                                 "engine_config": {"instructions": "Only the total."}}, key=key)
        self.assertEqual(r.status, 201, r)
        v2 = r.json()
        self.assertRegex(v2["id"], UUID_RE)
        self.assertEqual((v2["version_name"], v2["version_number"], v2["is_current"]), ("2.0.0", 2, True))
        self.assertEqual(v2["engine_config"]["instructions"], "Only the total.")
        self.assertEqual(v2["engine_config"]["model"], "tiny-q8")  # carried over from v1
        self.assertEqual(v2["input_definitions"], a["input_definitions"])

        cur = self.srv.get(base + "current/", key=key)
        self.assertEqual(cur.status, 200, cur)
        self.assertEqual(cur.json()["id"], v2["id"])
        self.assertEqual(self.srv.get(f"/v1/agents/{a['id']}/", key=key).json()["current_version_id"], v2["id"])

        r = self.srv.post(base, {"engine_config": {"temperature": 0.9}, "make_current": False}, key=key)
        self.assertEqual(r.status, 201, r)
        v3 = r.json()
        self.assertEqual((v3["version_name"], v3["is_current"]), ("v3", False))
        self.assertEqual(self.srv.get(base + "current/", key=key).json()["id"], v2["id"])

        listed = self.srv.get(base, key=key).json()
        self.assertEqual([v["version_number"] for v in listed], [1, 2, 3])
        self.assertEqual([v["is_current"] for v in listed], [False, True, False])
        one = self.srv.get(base + v3["id"] + "/", key=key)
        self.assertEqual(one.status, 200, one)
        self.assertEqual(one.json()["engine_config"]["temperature"], 0.9)
        self.assert_message(self.srv.get(base + str(uuid.uuid4()) + "/", key=key), 404)
        # A refused version changes nothing.
        self.assert_message(self.srv.post(base, {"engine_config": {"model": "nope"}}, key=key), 400,
                            "engine_config.model")
        self.assertEqual(len(self.srv.get(base, key=key).json()), 3)

    def check_organization_mismatch_is_403(self):
        org_id, key = tenant(self.srv)
        other = str(uuid.uuid4())
        self.assert_message(self.srv.post("/v1/agents/", agent_body(other), key=key), 403)
        self.assert_message(self.srv.post(f"/v1/agents/?organization_id={other}", agent_body(org_id), key=key),
                            403)
        self.assert_message(self.srv.get(f"/v1/agents/?organization_id={other}", key=key), 403)
        self.assertEqual(self.srv.get("/v1/agents/", key=key).json()["count"], 0)
        a = self.srv.post("/v1/agents/", agent_body(org_id), key=key).json()
        self.assert_message(self.srv.patch(f"/v1/agents/{a['id']}/", {"organization_id": other,
                                                                      "description": "x"}, key=key), 403)
        self.assertEqual(self.srv.get(f"/v1/agents/{a['id']}/", key=key).json()["description"], "Reads invoices")

    def check_validation_and_auth(self):
        org_id, key = tenant(self.srv)
        body = agent_body(org_id)
        del body["name"]
        self.assert_message(self.srv.post("/v1/agents/", body, key=key), 400, "name")
        self.assert_message(self.srv.post("/v1/agents/", agent_body(org_id, engine_config="x"), key=key), 400,
                            "engine_config")
        self.assert_message(self.srv.post("/v1/agents/", agent_body(org_id, engine_config={"model": 5}), key=key),
                            400, "engine_config.model")
        self.assert_message(self.srv.post("/v1/agents/", agent_body(org_id, engine_config={"model": "gpt-x"}),
                                          key=key), 400, "engine_config.model")
        self.assert_message(self.srv.post("/v1/agents/", agent_body(
            org_id, input_definitions=[{"key": "doc", "data_type": "pdf"}]), key=key), 400,
            "input_definitions[0].data_type")
        self.assert_message(self.srv.post("/v1/agents/", "{not json", key=key), 400)
        self.assertEqual(self.srv.get("/v1/agents/", key=key).json()["count"], 0)
        self.assertEqual(self.srv.post("/v1/agents/", agent_body(org_id), key=key).status, 201)
        self.assert_message(self.srv.post("/v1/agents/", agent_body(org_id, " INVOICE reader"), key=key), 409)
        self.assertEqual(self.srv.get("/v1/agents/", key=key).json()["count"], 1)
        self.assert_message(self.srv.get("/v1/agents/"), 401)
        self.assert_message(self.srv.get("/v1/agents/", key="agd_nope"), 401)
        self.assert_message(self.srv.get("/v1/agents/x/nothing/", key=key), 404)


if __name__ == "__main__":
    unittest.main()
