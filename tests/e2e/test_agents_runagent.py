"""run-agent.ai-style management routes (/v1/agents, /v1/agents/{id}):
pagination shape and {error {code, message, status}} errors, checked against
the error examples of ../shared/seeds/runagent-invoke.txt."""

import json
import os
import unittest
import uuid

from harness import ServerTestCase

SEEDS = os.path.join(os.environ.get("AGENTD_SOURCE_DIR", ""), "..", "shared", "seeds")


def seed_errors():
    """Every {"error": {...}} example object on the seed page."""
    with open(os.path.join(SEEDS, "runagent-invoke.txt"), encoding="utf-8") as f:
        text = f.read()
    out, depth, start = [], 0, None
    for i, c in enumerate(text):
        if c == "{":
            if depth == 0:
                start = i
            depth += 1
        elif c == "}" and depth:
            depth -= 1
            if depth == 0:
                try:
                    obj = json.loads(text[start:i + 1])
                except ValueError:
                    continue  # "{agent_id}" in a path, not an example
                if "error" in obj:
                    out.append(obj["error"])
    return out


def tenant(srv, org="acme"):
    srv.create_org(org, credits=5)
    return srv.create_key(org)


class RunAgentTest(ServerTestCase):
    def assert_error(self, r, status, code, field=None):
        self.assertEqual(r.status, status, r)
        err = r.json()["error"]
        required = set().union(*(set(e) - {"retry_after"} for e in seed_errors()))
        self.assertEqual(required, {"code", "message", "status"})
        self.assertTrue(required <= set(err), err)
        self.assertEqual((err["code"], err["status"]), (code, status), err)
        self.assertIsInstance(err["message"], str)
        if field:
            self.assertIn(field, err["message"])

    def create(self, key, name, **over):
        body = {"name": name, "description": "d", "model": "tiny-q8", "instructions": "Be kind.",
                "parameters": {"temperature": 0.5, "max_tokens": 50}}
        body.update(over)
        return self.srv.post("/v1/agents", body, key=key)

    def check_list_pagination(self):
        key = tenant(self.srv)
        ids = [self.create(key, f"agent {i}").json()["id"] for i in range(3)]
        r = self.srv.get("/v1/agents?page=1&limit=2", key=key)
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertEqual(set(body), {"data", "pagination"})
        self.assertEqual(body["pagination"], {"page": 1, "limit": 2, "total": 3, "pages": 2})
        self.assertEqual(len(body["data"]), 2)
        p2 = self.srv.get("/v1/agents?page=2&limit=2", key=key).json()
        self.assertEqual(p2["pagination"], {"page": 2, "limit": 2, "total": 3, "pages": 2})
        self.assertEqual(sorted(a["id"] for a in body["data"] + p2["data"]), sorted(ids))
        default = self.srv.get("/v1/agents", key=key).json()
        self.assertEqual(default["pagination"], {"page": 1, "limit": 20, "total": 3, "pages": 1})
        self.assert_error(self.srv.get("/v1/agents?limit=0", key=key), 400, "INVALID_FIELD_VALUE", "limit")
        self.assert_error(self.srv.get("/v1/agents?page=abc", key=key), 400, "INVALID_FIELD_TYPE", "page")

    def check_create_get_patch_delete(self):
        key = tenant(self.srv)
        r = self.create(key, "Weather Bot")
        self.assertEqual(r.status, 201, r)
        a = r.json()
        self.assertEqual((a["name"], a["model"], a["status"], a["instructions"]),
                         ("weather_bot", "tiny-q8", "active", "Be kind."))
        self.assertEqual(a["parameters"], {"temperature": 0.5, "max_tokens": 50})
        self.assertEqual(self.srv.get(f"/v1/agents/{a['id']}", key=key).json(), a)
        r = self.srv.patch(f"/v1/agents/{a['id']}", {"parameters": {"max_tokens": 10}, "status": "inactive"},
                           key=key)
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json()["parameters"]["max_tokens"], r.json()["status"]), (10, "inactive"))
        h = self.srv.get(f"/v1/agents/{a['id']}/health", key=key)
        self.assertEqual(h.json()["status"], "unhealthy")
        self.srv.patch(f"/v1/agents/{a['id']}", {"status": "active"}, key=key)
        h = self.srv.get(f"/v1/agents/{a['id']}/health", key=key)
        self.assertEqual(h.status, 200, h)
        self.assertEqual((h.json()["status"], h.json()["model_available"]), ("healthy", True))
        r = self.srv.delete(f"/v1/agents/{a['id']}", key=key)
        self.assertEqual(r.status, 200, r)
        self.assert_error(self.srv.get(f"/v1/agents/{a['id']}", key=key), 404, "AGENT_NOT_FOUND")

    def check_errors(self):
        key = tenant(self.srv)
        self.assert_error(self.srv.get("/v1/agents"), 401, "INVALID_API_KEY")
        self.assert_error(self.srv.get("/v1/agents", key="agd_" + "1" * 48), 401, "INVALID_API_KEY")
        self.assert_error(self.srv.get(f"/v1/agents/{uuid.uuid4()}", key=key), 404, "AGENT_NOT_FOUND")
        self.assert_error(self.srv.post("/v1/agents", {"model": "tiny-q8"}, key=key), 400,
                          "MISSING_REQUIRED_FIELD", "name")
        self.assert_error(self.create(key, "x", parameters={"temperature": "warm"}), 400, "INVALID_FIELD_TYPE",
                          "parameters.temperature")
        self.assert_error(self.create(key, "x", parameters={"temperature": 7}), 400, "INVALID_FIELD_VALUE",
                          "parameters.temperature")
        self.assert_error(self.create(key, "x", model="unknown"), 400, "INVALID_FIELD_VALUE", "model")
        self.assert_error(self.srv.post("/v1/agents", "not json", key=key), 400, "INVALID_JSON")
        self.assertEqual(self.srv.get("/v1/agents", key=key).json()["pagination"]["total"], 0)
        self.assertEqual(self.create(key, "Dup").status, 201)
        self.assert_error(self.create(key, "DUP"), 409, "ALREADY_EXISTS", "dup")
        self.assertEqual(self.srv.get("/v1/agents", key=key).json()["pagination"]["total"], 1)
        self.assert_error(self.srv.request("PUT", "/v1/agents", body={}, key=key), 405, "METHOD_NOT_ALLOWED")


if __name__ == "__main__":
    unittest.main()
