"""`agentd serve`: configuration errors, health endpoints, request ids, limits
over real sockets, the access log, and graceful stop on SIGTERM/SIGINT."""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import uuid

import harness
from harness import AGENTD_BIN, TINY_Q8, Server, ServerTestCase


def raw_exchange(port, data, timeout=5.0):
    """Sends `data`, returns everything the server sends until it closes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        return read_until_close(s, timeout)
    finally:
        s.close()


def read_until_close(s, timeout=5.0):
    s.settimeout(timeout)
    out = b""
    while True:
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        out += chunk
    return out


def status_of(raw):
    line = raw.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ")
    return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else 0


def listening_line(proc):
    """The "agentd listening on" line from the process output; other log
    lines (model warnings) may come first."""
    for _ in range(200):
        line = proc.stdout.readline().decode()
        if not line or line.startswith("agentd listening on "):
            return line.strip()
    return ""


def body_of(raw):
    return raw.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in raw else b""


class ConfigErrorTest(unittest.TestCase):
    """Start-up failures: the process exits non-zero and names the problem."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="agentd-cfg-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def run_serve(self, toml_text, *extra, timeout=30):
        path = os.path.join(self.dir, "agentd.toml")
        with open(path, "w") as f:
            f.write(toml_text)
        return subprocess.run([AGENTD_BIN, "serve", "--config", path, *extra], capture_output=True, text=True,
                              timeout=timeout)

    def config(self, model_lines=None, server_lines=""):
        db = "sqlite://" + os.path.join(self.dir, "a.db")
        models = model_lines if model_lines is not None else (
            f'id = "tiny-q8"\nbackend = "local"\npath = {json.dumps(TINY_Q8)}\ncontext = 2048\n')
        return (f'[server]\nlisten = "127.0.0.1:{harness.free_port()}"\n{server_lines}\n'
                f'[storage]\nurl = {json.dumps(db)}\n\n[[models]]\n{models}')

    def test_unknown_model_key_is_named(self):
        p = self.run_serve(self.config(f'id = "m"\npath = {json.dumps(TINY_Q8)}\ncontex = 2048\n'))
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("models[0].contex: unknown key", p.stderr)

    def test_unknown_server_key_and_table_are_named(self):
        p = self.run_serve(self.config(server_lines="max_body = 10"))
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("server.max_body: unknown key", p.stderr)
        p = self.run_serve(self.config() + "\n[extras]\nx = 1\n")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("extras: unknown key", p.stderr)

    def test_bad_values_are_named(self):
        cases = [
            ('max_body_bytes = "big"', "server.max_body_bytes"),
            ("max_body_bytes = -5", "server.max_body_bytes"),
            ('log_format = "xml"', "server.log_format"),
            ("idle_timeout_s = 0", "server.idle_timeout_s"),
        ]
        for line, key in cases:
            # listen is set once by config(); override via a second key is not TOML, so
            # put the bad line in the [server] table.
            p = self.run_serve(self.config(server_lines=line))
            self.assertNotEqual(p.returncode, 0, line)
            self.assertIn(key, p.stderr, line)
        p = self.run_serve(self.config(f'id = "m"\npath = {json.dumps(TINY_Q8)}\ncontext = "long"\n'))
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("models[0].context", p.stderr)
        p = self.run_serve(self.config(f'id = "m"\nbackend = "remote"\npath = {json.dumps(TINY_Q8)}\n'))
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("models[0].backend", p.stderr)
        bad_listen = self.config().replace('listen = "127.0.0.1:', 'listen = "127.0.0.1:x')
        p = self.run_serve(bad_listen)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("server.listen", p.stderr)

    def test_toml_syntax_error_names_line(self):
        p = self.run_serve("[server\nlisten = 1\n")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("line 1", p.stderr)

    def test_missing_model_file_is_reported_by_path(self):
        missing = os.path.join(self.dir, "no-such-model.gguf")
        p = self.run_serve(self.config(f'id = "m"\npath = {json.dumps(missing)}\n'))
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(missing, p.stderr)

    def test_non_gguf_model_file_is_rejected(self):
        fake = os.path.join(self.dir, "fake.gguf")
        with open(fake, "wb") as f:
            f.write(b"NOTGGUF")
        p = self.run_serve(self.config(f'id = "m"\npath = {json.dumps(fake)}\n'))
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(fake, p.stderr)
        self.assertIn("not a GGUF file", p.stderr)

    def test_relative_model_path_is_relative_to_config_folder(self):
        os.mkdir(os.path.join(self.dir, "models"))
        os.symlink(TINY_Q8, os.path.join(self.dir, "models", "tiny.gguf"))
        port = harness.free_port()
        path = os.path.join(self.dir, "agentd.toml")
        with open(path, "w") as f:
            f.write(f'[server]\nlisten = "127.0.0.1:{port}"\n[storage]\nurl = "sqlite://rel.db"\n'
                    f'[[models]]\nid = "m"\npath = "models/tiny.gguf"\n')
        # Run from another folder: paths still resolve against the config's folder.
        proc = subprocess.Popen([AGENTD_BIN, "serve", "--config", path], cwd="/", stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        try:
            line = listening_line(proc)
            self.assertEqual(line.strip(), f"agentd listening on http://127.0.0.1:{port}")
            self.assertTrue(os.path.exists(os.path.join(self.dir, "rel.db")))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 0)

    def test_listen_and_db_flags_override_config(self):
        port = harness.free_port()
        db = os.path.join(self.dir, "override.db")
        path = os.path.join(self.dir, "agentd.toml")
        with open(path, "w") as f:
            f.write(self.config())
        proc = subprocess.Popen([AGENTD_BIN, "serve", "--config", path, "--listen", f"127.0.0.1:{port}",
                                 "--db", "sqlite://" + db], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            line = listening_line(proc)
            self.assertEqual(line.strip(), f"agentd listening on http://127.0.0.1:{port}")
            self.assertTrue(os.path.exists(db))
            self.assertEqual(status_of(raw_exchange(port, b"GET /healthz HTTP/1.0\r\n\r\n")), 200)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 0)


class ServeTest(ServerTestCase):
    server_kwargs = {"max_body_bytes": 4096, "server_toml": "header_limit_bytes = 2048\nheader_timeout_s = 1"}

    def check_healthz_and_readyz(self):
        r = self.srv.get("/healthz")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["status"], "ok")
        r = self.srv.get("/readyz")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["store"], "sqlite" if self.srv.backend == "sqlite" else "postgresql")

    def check_request_id_echo_and_generation(self):
        r = self.srv.get("/healthz", headers={"X-Request-ID": "client-id-42"})
        self.assertEqual(r.headers["x-request-id"], "client-id-42")
        r = self.srv.get("/healthz")
        uuid.UUID(r.headers["x-request-id"])  # a generated uuid
        r = self.srv.get("/healthz", headers={"X-Request-ID": "x" * 500})
        uuid.UUID(r.headers["x-request-id"])
        # Also on errors outside any route.
        r = self.srv.get("/no/such/route", headers={"X-Request-ID": "nf-1"})
        self.assertEqual(r.status, 404)
        self.assertEqual(r.headers["x-request-id"], "nf-1")

    def check_keep_alive(self):
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=10)
        try:
            for _ in range(3):
                conn.request("GET", "/healthz")
                r = conn.getresponse()
                self.assertEqual(r.status, 200)
                r.read()
            self.assertIsNotNone(conn.sock)  # the same socket served all three
        finally:
            conn.close()

    def check_body_limits(self):
        port = self.srv.port
        # Content-Length announcing too much, no body sent.
        raw = raw_exchange(port, b"POST /api/v3/agents/create HTTP/1.1\r\nHost: x\r\n"
                                 b"Content-Length: 100000000\r\n\r\n")
        self.assertEqual(status_of(raw), 413)
        self.assertEqual(json.loads(body_of(raw))["error"]["code"], "PAYLOAD_TOO_LARGE")
        # The body actually sent, over the limit.
        raw = raw_exchange(port, b"POST /api/v3/agents/create HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"
                           + b"a" * 5000)
        self.assertEqual(status_of(raw), 413)
        # A chunked body that grows too large.
        chunk = b"400\r\n" + b"c" * 1024 + b"\r\n"
        raw = raw_exchange(port, b"POST /api/v3/agents/create HTTP/1.1\r\nHost: x\r\n"
                                 b"Transfer-Encoding: chunked\r\n\r\n" + chunk * 6)
        self.assertEqual(status_of(raw), 413)
        self.assertEqual(json.loads(body_of(raw))["error"]["status"], 413)
        self.assertEqual(self.srv.get("/healthz").status, 200)

    def check_header_limit_and_malformed(self):
        raw = raw_exchange(self.srv.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Junk: " + b"j" * 4000 + b"\r\n\r\n")
        self.assertEqual(status_of(raw), 431)
        raw = raw_exchange(self.srv.port, b"THIS IS NOT HTTP\r\n\r\n")
        self.assertEqual(status_of(raw), 400)
        self.assertEqual(json.loads(body_of(raw))["error"]["code"], "BAD_REQUEST")
        raw = raw_exchange(self.srv.port, b"GET /healthz HTTP/1.0\r\n\r\n")
        self.assertEqual(status_of(raw), 200)
        self.assertTrue(raw.startswith(b"HTTP/1.0 200"))
        self.assertEqual(self.srv.get("/healthz").status, 200)

    def check_slow_headers_are_cut_off(self):
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=10)
        try:
            start = time.time()
            cut = False
            for b in b"GET /healthz HTTP/1.1\r\nHost: slow\r\nX-Pad: aaaaaaaaaaaaaaaa\r\n\r\n":
                try:
                    s.send(bytes([b]))
                except OSError:
                    cut = True
                    break
                time.sleep(0.25)
                if time.time() - start > 1.6:
                    break
            rest = read_until_close(s, 5)
            elapsed = time.time() - start
        finally:
            s.close()
        # header_timeout_s = 1: answered 408 (or cut) long before the ~13 s the request would take.
        self.assertTrue(cut or status_of(rest) == 408, rest)
        self.assertLess(elapsed, 5)
        self.assertEqual(self.srv.get("/healthz").status, 200)

    def check_access_log_is_json_without_keys(self):
        secret = "sk-test-" + uuid.uuid4().hex
        self.srv.get("/healthz", headers={"X-Request-ID": "log-me-1", "Authorization": "Bearer " + secret})
        self.srv.get("/api/v3/agents?api_key=" + secret, key=secret)
        time.sleep(0.2)
        log = self.srv.read_log()
        self.assertNotIn(secret, log)
        entries = []
        for line in log.splitlines():
            line = line.strip()
            if line.startswith("{"):
                entries.append(json.loads(line))
        mine = [e for e in entries if e.get("request_id") == "log-me-1"]
        self.assertEqual(len(mine), 1, log)
        e = mine[0]
        self.assertEqual(e["method"], "GET")
        self.assertEqual(e["path"], "/healthz")
        self.assertEqual(e["status"], 200)
        self.assertIsInstance(e["latency_ms"], (int, float))
        self.assertIn("org", e)
        self.assertTrue(any(x["path"] == "/api/v3/agents" for x in entries))

    def check_sigterm_lets_in_flight_request_finish(self):
        self._stop_with_in_flight(signal.SIGTERM)

    def check_sigint_lets_in_flight_request_finish(self):
        self._stop_with_in_flight(signal.SIGINT)

    def _stop_with_in_flight(self, sig):
        body = b'{"agent_name": "x"}'
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=10)
        try:
            # Headers and half the body: the request is in flight when the signal comes.
            s.sendall(b"POST /api/v3/agents/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"X-Request-ID: inflight-1\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n"
                      + body[:5])
            time.sleep(0.3)
            self.srv.proc.send_signal(sig)
            time.sleep(0.3)
            self.assertIsNone(self.srv.proc.poll(), "exited before the request finished")
            s.sendall(body[5:])
            raw = read_until_close(s, 10)
        finally:
            s.close()
        status = status_of(raw)
        self.assertTrue(400 <= status < 500, raw)  # answered by the API (no key), not cut
        self.assertIn(b"X-Request-ID: inflight-1", raw)
        self.assertIn(b"Connection: close", raw)
        self.assertEqual(self.srv.proc.wait(timeout=30), 0)


if __name__ == "__main__":
    unittest.main()
