"""Nugen-style management API (/api/v3/agents) against the seed page
../shared/seeds/nugen-get-agent.txt: every field it shows, with its type."""

import datetime
import json
import os
import re
import unittest

from harness import ServerTestCase

SEEDS = os.path.join(os.environ.get("AGENTD_SOURCE_DIR", ""), "..", "shared", "seeds")


def seed_agent():
    """The `data` object of the seed page's example response."""
    with open(os.path.join(SEEDS, "nugen-get-agent.txt"), encoding="utf-8") as f:
        text = f.read()
    start = text.index("Example Response:")
    body = text[text.index("{", start):text.index("Notes:", start)]
    return json.loads(body)["data"]


def tenant(srv, org="acme"):
    srv.create_org(org, credits=5)
    return srv.create_key(org)


def parse_iso(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


FULL = {
    "agent_name": "Customer Support Bot",
    "agent_description": "Handles customer inquiries with empathy",
    "model": "tiny-q8",
    "max_tokens": 128,
    "temperature": 0.7,
    "instructions": "You are a helpful customer support agent.",
    # Nugen's own shape, as every real client sends it (and Nugen echoes it).
    "demonstrations": [{"user_input": "Hi", "model_output": "Hello! How can I help?"}],
}


class NugenTest(ServerTestCase):
    def create(self, key, **over):
        body = dict(FULL, **over)
        return self.srv.post("/api/v3/agents/create", body, key=key)

    def assert_422(self, r, loc, typ=None):
        self.assertEqual(r.status, 422, r)
        detail = r.json()["detail"]
        self.assertIsInstance(detail, list)
        self.assertEqual(detail[0]["loc"], loc, r)
        self.assertIsInstance(detail[0]["msg"], str)
        if typ:
            self.assertEqual(detail[0]["type"], typ, r)

    def check_get_matches_seed(self):
        key = tenant(self.srv)
        r = self.create(key)
        self.assertEqual(r.status, 200, r)
        created = r.json()["data"]
        agent_id = created["id"]
        self.assertRegex(agent_id, r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$")

        r = self.srv.get(f"/api/v3/agents/{agent_id}", key=key)
        self.assertEqual(r.status, 200, r)
        data = r.json()["data"]
        seed = seed_agent()
        for field, example in seed.items():
            self.assertIn(field, data, field)
            if field == "last_used":
                self.assertIsNone(data[field])  # null before any run
            elif isinstance(example, float):
                self.assertIsInstance(data[field], (int, float), field)
            else:
                self.assertIsInstance(data[field], type(example), field)
        for m, example in seed["performance_metrics"].items():
            self.assertIsInstance(data["performance_metrics"][m], (int, float), m)
        self.assertEqual(data["id"], agent_id)
        self.assertEqual(data["name"], "customer_support_bot")
        self.assertEqual(data["description"], FULL["agent_description"])
        self.assertEqual(data["base_model"], "tiny-q8")
        self.assertEqual(data["base_model_name"], "Tiny Random Q8_0")
        self.assertEqual(data["status"], "Active")
        self.assertEqual(data["endpoint"],
                         f"http://127.0.0.1:{self.srv.port}/api/v3/agents/run-agents/customer_support_bot/run")
        self.assertEqual(data["usage_count"], 0)
        self.assertEqual(data["performance_metrics"],
                         {"total_requests": 0, "average_response_time": 0, "success_rate": 0.0})
        self.assertEqual(data["system_prompt"], FULL["instructions"])
        self.assertEqual(data["uncertainty_threshold"], 0.7)
        self.assertIs(data["conversation_saving_enabled"], True)
        when = parse_iso(data["created_date"])
        self.assertLess(abs((datetime.datetime.now(datetime.timezone.utc) - when).total_seconds()), 300)
        self.assertEqual(data["max_tokens"], 128)
        self.assertEqual(data["demonstrations"], FULL["demonstrations"])
        self.assertEqual(created, data)

    def check_list_patch_delete(self):
        key = tenant(self.srv)
        a = self.create(key).json()["data"]["id"]
        b = self.create(key, agent_name="Second", max_tokens=None, max_token=77).json()["data"]
        self.assertEqual(b["max_tokens"], 77)  # `max_token` is accepted too
        r = self.srv.get("/api/v3/agents", key=key)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(sorted(x["id"] for x in r.json()["agents"]), sorted([a, b["id"]]))

        r = self.srv.patch(f"/api/v3/agents/{a}", {"agent_description": "new", "temperature": 0.2,
                                                    "instructions": "Be terse."}, key=key)
        self.assertEqual(r.status, 200, r)
        got = self.srv.get(f"/api/v3/agents/{a}", key=key).json()["data"]
        self.assertEqual((got["description"], got["uncertainty_threshold"], got["system_prompt"]),
                         ("new", 0.2, "Be terse."))
        self.assertEqual(got["name"], "customer_support_bot")  # untouched

        # Deactivated: 404 on GET, hidden unless include_inactive=true.
        self.assertEqual(self.srv.patch(f"/api/v3/agents/{a}", {"is_active": False}, key=key).status, 200)
        r = self.srv.get(f"/api/v3/agents/{a}", key=key)
        self.assertEqual(r.status, 404, r)
        self.assertIsInstance(r.json()["detail"], str)
        ids = [x["id"] for x in self.srv.get("/api/v3/agents", key=key).json()["agents"]]
        self.assertEqual(ids, [b["id"]])
        listed = self.srv.get("/api/v3/agents?include_inactive=true", key=key).json()["agents"]
        self.assertEqual(sorted(x["id"] for x in listed), sorted([a, b["id"]]))
        self.assertEqual([x["status"] for x in listed if x["id"] == a], ["Inactive"])
        self.assert_422(self.srv.get("/api/v3/agents?include_inactive=maybe", key=key),
                        ["query", "include_inactive"])

        r = self.srv.delete(f"/api/v3/agents/{b['id']}", key=key)
        self.assertEqual(r.status, 204, r)  # the cookbook counts anything else as a failure
        self.assertEqual(r.body, b"")
        self.assertEqual(self.srv.get(f"/api/v3/agents/{b['id']}", key=key).status, 404)
        self.assertEqual(self.srv.delete(f"/api/v3/agents/{b['id']}", key=key).status, 404)
        self.assertEqual(self.srv.get("/api/v3/agents/not-a-uuid", key=key).status, 404)

    def check_validation_changes_nothing(self):
        key = tenant(self.srv)
        body = dict(FULL)
        del body["agent_name"]
        self.assert_422(self.srv.post("/api/v3/agents/create", body, key=key), ["body", "agent_name"], "missing")
        self.assert_422(self.create(key, temperature="hot"), ["body", "temperature"], "float_type")
        self.assert_422(self.create(key, max_tokens="many"), ["body", "max_tokens"], "int_type")
        self.assert_422(self.create(key, agent_name=42), ["body", "agent_name"], "string_type")
        self.assert_422(self.create(key, temperature=2.5), ["body", "temperature"], "value_error")
        self.assert_422(self.create(key, model="gpt-nope"), ["body", "model"])
        self.assert_422(self.create(key, agent_name="!!!"), ["body", "agent_name"])
        self.assert_422(self.create(key, demonstrations=[{"user_input": "a", "model_output": "b"},
                                                         {"model_output": "c"}]),
                        ["body", "demonstrations", 1, "user_input"], "missing")
        self.assert_422(self.create(key, demonstrations=[{"user_input": "", "model_output": "b"}]),
                        ["body", "demonstrations", 0, "user_input"], "value_error")
        self.assert_422(self.create(key, demonstrations=[{"user_input": "a", "model_output": 7}]),
                        ["body", "demonstrations", 0, "model_output"], "string_type")
        self.assert_422(self.srv.post("/api/v3/agents/create", '{"agent_name": "x",', key=key), ["body"],
                        "json_invalid")
        self.assert_422(self.srv.post("/api/v3/agents/create", "[1, 2]", key=key), ["body"], "json_invalid")
        self.assertEqual(self.srv.get("/api/v3/agents", key=key).json()["agents"], [])

        a = self.create(key).json()["data"]
        before = self.srv.get(f"/api/v3/agents/{a['id']}", key=key).json()
        self.assert_422(self.srv.patch(f"/api/v3/agents/{a['id']}",
                                       {"agent_description": "changed", "temperature": -1}, key=key),
                        ["body", "temperature"])
        self.assert_422(self.srv.patch(f"/api/v3/agents/{a['id']}",
                                       {"agent_description": "changed", "model": "nope"}, key=key),
                        ["body", "model"])
        self.assert_422(self.srv.patch(f"/api/v3/agents/{a['id']}", "{bad json", key=key), ["body"])
        self.assertEqual(self.srv.get(f"/api/v3/agents/{a['id']}", key=key).json(), before)

    def check_duplicate_names(self):
        # Nugen answers a taken name with 400 and a detail saying it "already
        # exists" (what clients look for); hyphens are part of a name.
        key = tenant(self.srv)
        self.assertEqual(self.create(key, agent_name="Support Bot").status, 200)
        r = self.create(key, agent_name=" SUPPORT BOT ")
        self.assertEqual(r.status, 400, r)
        self.assertIn("already exists", r.json()["detail"])
        self.assertIn("support_bot", r.json()["detail"])
        r = self.create(key, agent_name="support-bot")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["data"]["name"], "support-bot")
        other = self.create(key, agent_name="other").json()["data"]["id"]
        r = self.srv.patch(f"/api/v3/agents/{other}", {"agent_name": "Support Bot"}, key=key)
        self.assertEqual(r.status, 400, r)
        self.assertIn("already exists", r.json()["detail"])
        names = sorted(x["name"] for x in self.srv.get("/api/v3/agents", key=key).json()["agents"])
        self.assertEqual(names, ["other", "support-bot", "support_bot"])

    def check_demonstrations_in_either_shape(self):
        # {input, output} (agentd's other dialects) is read too; answers are
        # always in Nugen's shape.
        key = tenant(self.srv)
        r = self.create(key, demonstrations=[{"input": "Hi", "output": "Hello"}])
        self.assertEqual(r.status, 200, r)
        agent_id = r.json()["data"]["id"]
        self.assertEqual(r.json()["data"]["demonstrations"], [{"user_input": "Hi", "model_output": "Hello"}])
        r = self.srv.patch(f"/api/v3/agents/{agent_id}",
                           {"demonstrations": [{"user_input": "Q", "model_output": "A"},
                                               {"input": "Q2", "output": "A2"}]}, key=key)
        self.assertEqual(r.status, 200, r)
        got = self.srv.get(f"/api/v3/agents/{agent_id}", key=key).json()["data"]["demonstrations"]
        self.assertEqual(got, [{"user_input": "Q", "model_output": "A"}, {"user_input": "Q2", "model_output": "A2"}])

    def check_unauthenticated(self):
        key = tenant(self.srv)
        for headers in ({}, {"Authorization": "Bearer agd_" + "0" * 48}, {"Authorization": "Basic " + key},
                        {"Authorization": "Bearer"}):
            for method, path in (("GET", "/api/v3/agents"), ("POST", "/api/v3/agents/create"),
                                 ("GET", "/api/v3/agents/" + "0" * 8 + "-0000-4000-8000-" + "0" * 12)):
                r = self.srv.request(method, path, body=FULL if method == "POST" else None, headers=headers)
                self.assertEqual(r.status, 401, (headers, path, r))
                self.assertIsInstance(r.json()["detail"], str)
                self.assertNotIn(key, r.text)
        self.assertEqual(self.srv.get("/api/v3/agents", key=key).json()["agents"], [])
        prefix = key[:12]
        self.srv.cli("key", "revoke", prefix)
        self.assertEqual(self.srv.get("/api/v3/agents", key=key).status, 401)

    def check_unknown_route_in_dialect(self):
        key = tenant(self.srv)
        r = self.srv.get("/api/v3/nothing/here", key=key)
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.json(), {"detail": "Not Found"})
        r = self.srv.request("PUT", "/api/v3/agents/create", body={}, key=key)
        self.assertEqual(r.status, 405, r)
        self.assertIn("detail", r.json())


if __name__ == "__main__":
    unittest.main()
