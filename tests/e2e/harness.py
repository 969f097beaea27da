"""Shared helpers for end-to-end tests: start the real agentd binary on a
loopback port with a fresh database (SQLite file or a new PostgreSQL database),
talk HTTP to it, run its command line.

Environment (set by CTest): AGENTD_BIN, AGENTD_TESTDATA_DIR, AGENTD_SOURCE_DIR;
AGENTD_TEST_PG_URL (set by scripts/test.sh) for the PostgreSQL runs.
"""

import http.client
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

AGENTD_BIN = os.environ.get("AGENTD_BIN", "")
TESTDATA = os.environ.get("AGENTD_TESTDATA_DIR", "")
TINY_Q8 = os.path.join(TESTDATA, "models", "tiny-random-Q8_0.gguf")
STORIES = os.path.join(TESTDATA, "models", "stories260K.gguf")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def backends():
    """The storage back ends every server test runs on."""
    return ["sqlite", "postgres"]


def pg_base_url():
    url = os.environ.get("AGENTD_TEST_PG_URL", "")
    if not url:
        raise AssertionError(
            "AGENTD_TEST_PG_URL is not set: run the tests through scripts/test.sh, "
            "which starts a throwaway PostgreSQL, or point it at one")
    return url


def new_pg_database():
    """Creates an empty database on the test cluster and returns its URL."""
    base = pg_base_url()
    name = "e2e_" + uuid.uuid4().hex[:12]
    subprocess.run(["psql", base, "-q", "-c", f"CREATE DATABASE {name}"], check=True,
                   stdout=subprocess.DEVNULL)
    return base.rsplit("/", 1)[0] + "/" + name


def toml_str(s):
    return json.dumps(s)  # a JSON string is a valid TOML basic string


DEFAULT_MODELS = [
    {"id": "tiny-q8", "name": "Tiny Random Q8_0", "backend": "local", "path": TINY_Q8,
     "context": 2048, "price_input_per_mtok": 0.10, "price_output_per_mtok": 0.20},
]


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # dict, lowercased names
        self.body = body  # bytes

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Response {self.status} {self.text[:300]!r}>"


# What AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer print.
SANITIZER_REPORTS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "SUMMARY: UndefinedBehaviorSanitizer")


class Server:
    """One agentd process. Use as a context manager or call start()/stop()."""

    def __init__(self, backend="sqlite", models=None, max_body_bytes=1048576, extra_toml="",
                 db_url=None, env=None, server_toml=""):
        self.backend = backend
        self.models = DEFAULT_MODELS if models is None else models
        self.max_body_bytes = max_body_bytes
        self.extra_toml = extra_toml
        self.server_toml = server_toml  # more lines for the [server] table
        self.dir = tempfile.mkdtemp(prefix="agentd-e2e-")
        self.port = free_port()
        if db_url:
            self.db_url = db_url
        elif backend == "sqlite":
            self.db_url = "sqlite://" + os.path.join(self.dir, "agentd.db")
        else:
            self.db_url = new_pg_database()
        self.config_path = os.path.join(self.dir, "agentd.toml")
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        self.log_path = os.path.join(self.dir, "server.log")
        self.write_config()

    def write_config(self):
        lines = ["[server]", f'listen = "127.0.0.1:{self.port}"',
                 f"max_body_bytes = {self.max_body_bytes}", self.server_toml, "", "[storage]",
                 f"url = {toml_str(self.db_url)}", ""]
        for m in self.models:
            lines.append("[[models]]")
            for k, v in m.items():
                if isinstance(v, bool):
                    lines.append(f"{k} = {'true' if v else 'false'}")
                elif isinstance(v, (int, float)):
                    lines.append(f"{k} = {v}")
                else:
                    lines.append(f"{k} = {toml_str(v)}")
            lines.append("")
        lines.append(self.extra_toml)
        with open(self.config_path, "w") as f:
            f.write("\n".join(lines))

    # --- process -----------------------------------------------------------
    def start(self, timeout=30):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([AGENTD_BIN, "serve", "--config", self.config_path],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"agentd exited with {self.proc.returncode}:\n{self.read_log()}")
            try:
                if self.request("GET", "/healthz").status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("agentd did not become healthy:\n" + self.read_log())

    def stop(self, timeout=30, expect_clean=True):
        """SIGTERM, wait, return the exit code. With expect_clean (the
        default) an exit code other than 0, or a sanitizer's report anywhere
        in the log, fails the test with the log's tail: under the
        AddressSanitizer build a leak or a use-after-free at shutdown is a
        failure, not a line nobody reads."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("agentd did not exit after SIGTERM:\n" + self.read_log())
        code = self.proc.returncode
        self.proc = None
        self.log.close()
        if expect_clean:
            log = self.read_log()
            reports = [m for m in SANITIZER_REPORTS if m in log]
            if code != 0 or reports:
                raise AssertionError(f"agentd exited with {code}" + (f", sanitizer reports {reports}" if reports else "")
                                     + ":\n" + log[-6000:])
        return code

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def cleanup(self):
        try:
            if self.proc is not None:
                self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()

    # --- command line ---------------------------------------------------------
    def cli(self, *args, check=True):
        """Runs `agentd ARGS --config CONFIG`; returns CompletedProcess (text)."""
        p = subprocess.run([AGENTD_BIN, *args, "--config", self.config_path], capture_output=True,
                           text=True, env=self.env, timeout=120)
        if check and p.returncode != 0:
            raise AssertionError(f"agentd {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
        return p

    def create_org(self, name, credits=None):
        args = ["org", "create", name] + (["--credits", str(credits)] if credits is not None else [])
        return self.cli(*args).stdout.strip().splitlines()[-1]

    def create_key(self, org, *extra):
        return self.cli("key", "create", "--org", org, *extra).stdout.strip().splitlines()[-1]

    # --- HTTP -------------------------------------------------------------------
    def request(self, method, path, body=None, key=None, headers=None, timeout=60, raw=None):
        """body: dict/list -> JSON; str/bytes sent as is. Returns Response."""
        h = dict(headers or {})
        data = raw
        if data is None and body is not None:
            if isinstance(body, (dict, list)):
                data = json.dumps(body).encode()
                h.setdefault("Content-Type", "application/json")
            elif isinstance(body, str):
                data = body.encode()
            else:
                data = body
        if key:
            h["Authorization"] = "Bearer " + key
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body=body, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


UPSTREAM_SCRIPT = os.path.join(os.environ.get("AGENTD_SOURCE_DIR", ""), "tests", "model",
                               "openai_upstream_server.py")


class Upstream:
    """tests/model/openai_upstream_server.py as its own process: a real
    OpenAI-compatible provider on loopback whose `model` picks a scripted
    behaviour (see the script). Stops when stop() closes its stdin."""

    def __init__(self):
        self.proc = subprocess.Popen(["python3", UPSTREAM_SCRIPT], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline())
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    def model(self, model_id, behaviour, **extra):
        """A [[models]] entry for agentd with this upstream behaviour."""
        m = {"id": model_id, "name": model_id, "backend": "openai", "base_url": self.base_url,
             "upstream_model": behaviour, "context": 2048, "price_input_per_mtok": 1.0,
             "price_output_per_mtok": 2.0, "max_retries": 0}
        m.update(extra)
        return m

    def seen(self):
        """[[behaviour, X-Request-ID, attempts], ...] asked so far."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", "/seen")
            return json.loads(conn.getresponse().read())["requests"]
        finally:
            conn.close()

    def stop(self):
        if self.proc is None:
            return
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc = None


class ServerTestCase(unittest.TestCase):
    """Runs each test method once per storage back end (see backends()).

    Subclasses implement tests taking `self.srv` (a started Server) via
    methods named check_*; this class generates test_<name>_<backend>.
    """

    server_kwargs = {}
    # A subclass whose behaviour does not touch storage beyond what every
    # other file checks on both may name fewer (and say why).
    storage_backends = None

    @classmethod
    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in [n for n in dir(cls) if n.startswith("check_")]:
            for backend in cls.storage_backends or backends():
                def make(name=name, backend=backend):
                    def test(self):
                        with Server(backend=backend, **self.server_kwargs) as srv:
                            self.srv = srv
                            try:
                                getattr(self, name)()
                            except Exception:
                                print("---- server log ----\n" + srv.read_log()[-4000:])
                                raise
                    return test
                setattr(cls, f"test_{name[6:]}_{backend}", make())
