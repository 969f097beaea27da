"""One agent, every dialect: created through one API, read through the
others with the same id; names shared across dialects; tenancy between two
organizations in every dialect."""

import json
import unittest

from harness import ServerTestCase


class CrossDialectTest(ServerTestCase):
    def check_one_agent_every_dialect(self):
        org_id = self.srv.create_org("acme")
        key = self.srv.create_key("acme")
        n = self.srv.post("/api/v3/agents/create", {"agent_name": "Made In Nugen", "model": "tiny-q8",
                                                    "instructions": "N", "temperature": 0.4}, key=key).json()["data"]
        roe = self.srv.post("/v1/agents/", {"name": "Made In Roe", "organization_id": org_id,
                                            "engine_config": {"model": "tiny-q8", "instructions": "R"}}, key=key)
        self.assertEqual(roe.status, 201, roe)
        roe = roe.json()
        ra = self.srv.post("/v1/agents", {"name": "Made In RunAgent", "model": "tiny-q8", "instructions": "A"},
                           key=key).json()

        # Nugen's agent through Roe and run-agent.ai.
        r = self.srv.get(f"/v1/agents/{n['id']}/", key=key).json()
        self.assertEqual((r["id"], r["name"], r["engine_config"]["model"], r["engine_config"]["instructions"],
                          r["engine_config"]["temperature"]), (n["id"], "made_in_nugen", "tiny-q8", "N", 0.4))
        a = self.srv.get(f"/v1/agents/{n['id']}", key=key).json()
        self.assertEqual((a["id"], a["name"], a["instructions"], a["parameters"]["temperature"]),
                         (n["id"], "made_in_nugen", "N", 0.4))
        # Roe's agent through Nugen.
        g = self.srv.get(f"/api/v3/agents/{roe['id']}", key=key).json()["data"]
        self.assertEqual((g["id"], g["name"], g["system_prompt"], g["base_model"]),
                         (roe["id"], "made_in_roe", "R", "tiny-q8"))
        # Every list shows all three, with the same ids.
        ids = sorted([n["id"], roe["id"], ra["id"]])
        self.assertEqual(sorted(x["id"] for x in self.srv.get("/api/v3/agents", key=key).json()["agents"]), ids)
        self.assertEqual(sorted(x["id"] for x in self.srv.get("/v1/agents/", key=key).json()["results"]), ids)
        self.assertEqual(sorted(x["id"] for x in self.srv.get("/v1/agents", key=key).json()["data"]), ids)
        # A change made in one dialect shows in another.
        self.srv.patch(f"/v1/agents/{ra['id']}/", {"description": "patched by Roe"}, key=key)
        self.assertEqual(self.srv.get(f"/api/v3/agents/{ra['id']}", key=key).json()["data"]["description"],
                         "patched by Roe")
        # Names are one namespace: a clash is refused in each dialect's shape.
        r = self.srv.post("/v1/agents/", {"name": "Made In Nugen", "engine_config": {"model": "tiny-q8"}}, key=key)
        self.assertEqual(r.status, 409, r)
        self.assertIn("message", r.json())
        r = self.srv.post("/v1/agents", {"name": "MADE IN ROE"}, key=key)
        self.assertEqual(r.status, 409, r)
        self.assertEqual(r.json()["error"]["status"], 409)
        r = self.srv.post("/api/v3/agents/create", {"agent_name": "made in runagent"}, key=key)
        self.assertEqual(r.status, 400, r)  # Nugen's own status for a taken name
        self.assertIn("already exists", r.json()["detail"])
        # Deleted through one dialect, gone from all.
        self.assertEqual(self.srv.delete(f"/v1/agents/{n['id']}/", key=key).status, 204)
        self.assertEqual(self.srv.get(f"/api/v3/agents/{n['id']}", key=key).status, 404)
        self.assertEqual(self.srv.get(f"/v1/agents/{n['id']}", key=key).status, 404)

    def check_tenancy(self):
        self.srv.create_org("org-a")
        org_b = self.srv.create_org("org-b")
        key_a = self.srv.create_key("org-a")
        key_b = self.srv.create_key("org-b")
        a = self.srv.post("/api/v3/agents/create", {"agent_name": "private", "model": "tiny-q8",
                                                    "instructions": "secret sauce"}, key=key_a).json()["data"]
        before = self.srv.get(f"/api/v3/agents/{a['id']}", key=key_a).json()
        aid = a["id"]
        attempts = [
            ("GET", f"/api/v3/agents/{aid}", None, 404),
            ("PATCH", f"/api/v3/agents/{aid}", {"instructions": "pwned"}, 404),
            ("DELETE", f"/api/v3/agents/{aid}", None, 404),
            ("GET", f"/v1/agents/{aid}/", None, 404),
            ("PATCH", f"/v1/agents/{aid}/", {"description": "pwned"}, 404),
            ("DELETE", f"/v1/agents/{aid}/", None, 404),
            ("GET", f"/v1/agents/{aid}/versions/", None, 404),
            ("POST", f"/v1/agents/{aid}/versions/", {"engine_config": {"instructions": "pwned"}}, 404),
            ("GET", f"/v1/agents/{aid}/versions/current/", None, 404),
            ("GET", f"/v1/agents/{aid}", None, 404),
            ("PATCH", f"/v1/agents/{aid}", {"instructions": "pwned"}, 404),
            ("DELETE", f"/v1/agents/{aid}", None, 404),
        ]
        for method, path, body, status in attempts:
            r = self.srv.request(method, path, body=body, key=key_b)
            self.assertEqual(r.status, status, (method, path, r))
            self.assertNotIn("secret sauce", r.text)
        # B's lists never show A's agent; naming A's organization is 403 in Roe.
        self.assertEqual(self.srv.get("/api/v3/agents?include_inactive=true", key=key_b).json()["agents"], [])
        self.assertEqual(self.srv.get("/v1/agents/", key=key_b).json()["count"], 0)
        self.assertEqual(self.srv.get("/v1/agents", key=key_b).json()["data"], [])
        org_a = self.srv.cli("org", "show", "org-a").stdout.strip().splitlines()[-1]
        org_a_id = json.loads(org_a)["id"]
        r = self.srv.get(f"/v1/agents/?organization_id={org_a_id}", key=key_b)
        self.assertEqual(r.status, 403, r)
        self.assertIn("message", r.json())
        # B may use the same name in its own organization.
        r = self.srv.post("/v1/agents/", {"name": "private", "organization_id": org_b,
                                          "engine_config": {"model": "tiny-q8"}}, key=key_b)
        self.assertEqual(r.status, 201, r)
        self.assertNotEqual(r.json()["id"], aid)
        # A's agent is untouched.
        self.assertEqual(self.srv.get(f"/api/v3/agents/{aid}", key=key_a).json(), before)
        self.assertEqual(len(self.srv.get(f"/v1/agents/{aid}/versions/", key=key_a).json()), 1)


if __name__ == "__main__":
    unittest.main()
