"""The `org`, `key` and `agent` commands: their output contract (last line
is the id or the secret; `org show` is JSON), what they store (only a hash of
a key), and that refused commands change nothing."""

import hashlib
import json
import re
import unittest

from harness import ServerTestCase

UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"


class CliTest(ServerTestCase):
    def last_line(self, p):
        return p.stdout.strip().splitlines()[-1]

    def check_org_commands(self):
        srv = self.srv
        org_id = self.last_line(srv.cli("org", "create", "acme", "--credits", "10"))
        self.assertRegex(org_id, UUID_RE)
        shown = json.loads(self.last_line(srv.cli("org", "show", "acme")))
        self.assertEqual(shown, {"id": org_id, "name": "acme", "credits": 10})
        self.assertIsInstance(shown["credits"], (int, float))
        srv.cli("org", "credit", "acme", "2.5")
        self.assertEqual(json.loads(self.last_line(srv.cli("org", "show", "acme")))["credits"], 12.5)
        no_credits = self.last_line(srv.cli("org", "create", "zero"))
        self.assertEqual(json.loads(self.last_line(srv.cli("org", "show", "zero"))),
                         {"id": no_credits, "name": "zero", "credits": 0})
        # Refused: duplicate, unknown, bad amount. Nothing changes.
        p = srv.cli("org", "create", "acme", "--credits", "99", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("already exists", p.stderr)
        self.assertNotEqual(srv.cli("org", "show", "nobody", check=False).returncode, 0)
        self.assertNotEqual(srv.cli("org", "credit", "acme", "0", check=False).returncode, 0)
        self.assertNotEqual(srv.cli("org", "credit", "acme", "lots", check=False).returncode, 0)
        self.assertEqual(json.loads(self.last_line(srv.cli("org", "show", "acme"))),
                         {"id": org_id, "name": "acme", "credits": 12.5})

    def check_key_commands(self):
        srv = self.srv
        srv.create_org("acme")
        p = srv.cli("key", "create", "--org", "acme", "--rpm", "60", "--tpm", "5000", "--concurrency", "3")
        secret = self.last_line(p)
        self.assertRegex(secret, r"^agd_[0-9a-f]{48}$")
        self.assertEqual(p.stdout.count(secret), 1)
        admin = srv.create_key("acme", "--admin")
        listed = [json.loads(l) for l in srv.cli("key", "list", "--org", "acme").stdout.strip().splitlines()]
        self.assertEqual(len(listed), 2)
        by_prefix = {k["prefix"]: k for k in listed}
        k = by_prefix[secret[:12]]
        self.assertEqual((k["rpm"], k["tpm"], k["concurrency"], k["admin"], k["revoked"]), (60, 5000, 3, False, False))
        self.assertTrue(by_prefix[admin[:12]]["admin"])
        listing = srv.cli("key", "list", "--org", "acme").stdout
        self.assertNotIn(secret, listing)
        self.assertNotIn(admin, listing)
        # Only the SHA-256 is stored: the secret is nowhere in the database file.
        if srv.backend == "sqlite":
            db = srv.db_url[len("sqlite://"):]
            raw = open(db, "rb").read()
            for suffix in ("-wal",):
                try:
                    raw += open(db + suffix, "rb").read()
                except OSError:
                    pass
            self.assertNotIn(secret.encode(), raw)
            self.assertIn(hashlib.sha256(secret.encode()).hexdigest().encode(), raw)
        # The key works, until it is revoked.
        self.assertEqual(srv.get("/api/v3/agents", key=secret).status, 200)
        self.assertEqual(self.last_line(srv.cli("key", "revoke", secret[:12])), "revoked 1 key")
        self.assertEqual(srv.get("/api/v3/agents", key=secret).status, 401)
        self.assertEqual(srv.get("/api/v3/agents", key=admin).status, 200)
        revoked = [json.loads(l) for l in srv.cli("key", "list", "--org", "acme").stdout.strip().splitlines()]
        self.assertEqual({k["prefix"]: k["revoked"] for k in revoked}, {secret[:12]: True, admin[:12]: False})
        # Refused.
        self.assertNotEqual(srv.cli("key", "revoke", "agd_", check=False).returncode, 0)
        self.assertNotEqual(srv.cli("key", "revoke", "agd_zzzz", check=False).returncode, 0)
        self.assertNotEqual(srv.cli("key", "create", "--org", "nobody", check=False).returncode, 0)
        self.assertNotEqual(srv.cli("key", "create", "--org", "acme", "--rpm", "-1", check=False).returncode, 0)
        self.assertEqual(len(srv.cli("key", "list", "--org", "acme").stdout.strip().splitlines()), 2)

    def check_agent_create(self):
        srv = self.srv
        srv.create_org("demo")
        key = srv.create_key("demo")
        p = srv.cli("agent", "create", "--org", "demo", "--name", "Demo Agent", "--model", "tiny-q8",
                    "--instructions", "You are a helpful assistant.", "--description", "the demo")
        agent_id = self.last_line(p)
        self.assertRegex(agent_id, UUID_RE)
        data = srv.get(f"/api/v3/agents/{agent_id}", key=key).json()["data"]
        self.assertEqual((data["name"], data["base_model"], data["system_prompt"], data["description"]),
                         ("demo_agent", "tiny-q8", "You are a helpful assistant.", "the demo"))
        # Refused: unknown model, duplicate name, unknown org. Nothing is created.
        p = srv.cli("agent", "create", "--org", "demo", "--name", "x", "--model", "nope", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("model", p.stderr)
        self.assertNotEqual(srv.cli("agent", "create", "--org", "demo", "--name", "Demo Agent", "--model",
                                    "tiny-q8", check=False).returncode, 0)
        self.assertNotEqual(srv.cli("agent", "create", "--org", "ghost", "--name", "y", "--model", "tiny-q8",
                                    check=False).returncode, 0)
        self.assertEqual([a["id"] for a in srv.get("/api/v3/agents", key=key).json()["agents"]], [agent_id])
        listed = [json.loads(l) for l in srv.cli("agent", "list", "--org", "demo").stdout.strip().splitlines()]
        self.assertEqual([(a["id"], a["name"]) for a in listed], [(agent_id, "demo_agent")])


if __name__ == "__main__":
    unittest.main()
