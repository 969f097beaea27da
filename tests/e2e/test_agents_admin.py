"""The /admin/ API for an organization's admin keys: it manages its own
organization only, ordinary keys are refused, and organization creation and
credits are for server admins alone."""

import json
import unittest

from harness import ServerTestCase


class AdminTest(ServerTestCase):
    def check_org_admin_scope(self):
        srv = self.srv
        acme_id = srv.create_org("acme", credits=3)
        srv.create_org("globex")
        admin = srv.create_key("acme", "--admin")
        user = srv.create_key("acme")

        r = srv.get("/admin/orgs/acme", key=admin)
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json()["id"], r.json()["name"], r.json()["credits"]), (acme_id, "acme", 3))
        self.assertEqual([o["name"] for o in srv.get("/admin/orgs", key=admin).json()["data"]], ["acme"])

        r = srv.post("/admin/orgs/acme/keys", {"rpm": 10}, key=admin)
        self.assertEqual(r.status, 201, r)
        new_key = r.json()
        self.assertRegex(new_key["secret"], r"^agd_[0-9a-f]{48}$")
        self.assertEqual(new_key["prefix"], new_key["secret"][:12])
        self.assertEqual(srv.get("/api/v3/agents", key=new_key["secret"]).status, 200)
        prefixes = [k["prefix"] for k in srv.get("/admin/orgs/acme/keys", key=admin).json()["data"]]
        self.assertEqual(sorted(prefixes), sorted([admin[:12], user[:12], new_key["prefix"]]))
        self.assertNotIn(new_key["secret"], srv.get("/admin/orgs/acme/keys", key=admin).text)
        r = srv.delete(f"/admin/orgs/acme/keys/{new_key['prefix']}", key=admin)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(srv.get("/api/v3/agents", key=new_key["secret"]).status, 401)

        r = srv.post("/admin/orgs/acme/agents", {"name": "Admin Made", "model": "tiny-q8"}, key=admin)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(srv.get(f"/api/v3/agents/{r.json()['id']}", key=user).json()["data"]["name"], "admin_made")

        # Another organization is invisible; server-wide operations are refused.
        for method, path, body in (("GET", "/admin/orgs/globex", None),
                                   ("POST", "/admin/orgs/globex/keys", {}),
                                   ("GET", "/admin/orgs/globex/keys", None)):
            r = srv.request(method, path, body=body, key=admin)
            self.assertEqual(r.status, 404, (path, r))
            self.assertEqual(r.json()["error"]["code"], "NOT_FOUND")
        r = srv.post("/admin/orgs", {"name": "evil"}, key=admin)
        self.assertEqual(r.status, 403, r)
        self.assertEqual(r.json()["error"]["code"], "PERMISSION_DENIED")
        self.assertEqual(srv.post("/admin/orgs/acme/credits", {"usd": 100}, key=admin).status, 403)
        self.assertEqual(srv.get("/admin/orgs/acme", key=admin).json()["credits"], 3)
        self.assertNotEqual(srv.cli("org", "show", "evil", check=False).returncode, 0)

        # Ordinary and missing keys.
        r = srv.get("/admin/orgs/acme", key=user)
        self.assertEqual(r.status, 403, r)
        r = srv.get("/admin/orgs/acme")
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.json()["error"]["code"], "INVALID_API_KEY")
        r = srv.post("/admin/orgs/acme/keys", "{oops", key=admin)
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json()["error"]["code"], "INVALID_JSON")
        self.assertEqual(len(srv.get("/admin/orgs/acme/keys", key=admin).json()["data"]), 3)


class ServerAdminTest(ServerTestCase):
    server_kwargs = {"server_toml": 'admin_org = "root"'}

    def check_server_admin_manages_every_org(self):
        srv = self.srv
        srv.create_org("root")
        root_admin = srv.create_key("root", "--admin")
        r = srv.post("/admin/orgs", {"name": "newco", "credits": 2.5}, key=root_admin)
        self.assertEqual(r.status, 201, r)
        org = r.json()
        self.assertRegex(org["id"], r"^[0-9a-f-]{36}$")
        self.assertEqual((org["name"], org["credits"]), ("newco", 2.5))
        shown = json.loads(srv.cli("org", "show", "newco").stdout.strip().splitlines()[-1])
        self.assertEqual(shown, {"id": org["id"], "name": "newco", "credits": 2.5})
        r = srv.post("/admin/orgs/newco/credits", {"usd": 1.5}, key=root_admin)
        self.assertEqual((r.status, r.json()["credits"]), (200, 4.0))
        key = srv.post("/admin/orgs/newco/keys", {}, key=root_admin).json()["secret"]
        agent = srv.post("/admin/orgs/newco/agents", {"name": "Helper", "model": "tiny-q8"}, key=root_admin).json()
        self.assertEqual(srv.get(f"/api/v3/agents/{agent['id']}", key=key).json()["data"]["name"], "helper")
        self.assertEqual(sorted(o["name"] for o in srv.get("/admin/orgs", key=root_admin).json()["data"]),
                         ["newco", "root"])
        # Refused requests change nothing.
        r = srv.post("/admin/orgs", {"name": "newco"}, key=root_admin)
        self.assertEqual((r.status, r.json()["error"]["code"]), (409, "ALREADY_EXISTS"))
        r = srv.post("/admin/orgs", {"name": 7}, key=root_admin)
        self.assertEqual((r.status, r.json()["error"]["code"]), (400, "INVALID_FIELD_TYPE"))
        r = srv.post("/admin/orgs/newco/credits", {"usd": -3}, key=root_admin)
        self.assertEqual(r.status, 400, r)
        self.assertEqual(srv.get("/admin/orgs/newco", key=root_admin).json()["credits"], 4.0)
        # The org's own admin key is not a server admin.
        newco_admin = srv.post("/admin/orgs/newco/keys", {"admin": True}, key=root_admin).json()["secret"]
        self.assertEqual(srv.get("/admin/orgs/root", key=newco_admin).status, 404)
        self.assertEqual(srv.post("/admin/orgs", {"name": "x"}, key=newco_admin).status, 403)


if __name__ == "__main__":
    unittest.main()
