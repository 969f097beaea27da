#!/usr/bin/env python3
"""Server benchmark: a real `agentd serve` on a local model, driven over HTTP.

Prints two figures (see bench/README.md, "server_bench.py"):
  (a) batching: N runs one after another vs the same N runs sent at once
      (no session, greedy unless --temperature, --max-tokens each): wall
      times and the ratio
      concurrent / sequential (issue 5 target: <= 0.40 for N = 8);
  (b) sessions: time to the first streamed token of a session's next turn
      after a ~--history-tokens first turn (its KV cache kept) vs the same
      prompt sent in a fresh session (nothing cached): ratio warm / cold
      (target: <= 0.20). The cold prompt is new text of the same length,
      since agentd would otherwise copy the identical prefix from the warm
      session's kept cache.

  bench/server_bench.py [--bin build/src/app/agentd] [--model M.gguf] [--runs 8]
                        [--max-tokens 32] [--history-tokens 1000] [--reps 3]
                        [--parallel N] [--threads N] [--only a|b] [--temperature T] [--json]

The model defaults to build/bench-models/smollm2-135m-shape-Q8_0.gguf (made by
bench/run_model_bench.sh). `parallel` and `threads` are left to the binary's
defaults unless given. Organization, key and agent are made with the CLI;
the agent's conversation saving is switched on through PATCH
/api/v3/agents/{id} so a session keeps its turns.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Plain English words: about 1.3 tokens each with the Llama SentencePiece vocabulary.
WORDS = ("the quick brown fox jumps over a lazy dog while seven wizards quietly judge boxing matches "
         "in an old town near the river where children play and merchants sell bread cheese apples "
         "and warm soup to travelers who arrive late each evening from distant mountain villages").split()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self, binary, model, context, parallel, threads):
        self.bin = binary
        self.dir = tempfile.mkdtemp(prefix="agentd-bench-")
        self.port = free_port()
        self.config = os.path.join(self.dir, "agentd.toml")
        lines = ["[server]", f'listen = "127.0.0.1:{self.port}"', 'log_level = "warn"', "",
                 "[storage]", f'url = "sqlite://{self.dir}/agentd.db"', "",
                 "[[models]]", 'id = "bench"', 'backend = "local"', f"path = {json.dumps(model)}",
                 f"context = {context}"]
        if parallel:
            lines.append(f"parallel = {parallel}")
        if threads:
            lines.append(f"threads = {threads}")
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = None

    def cli(self, *args):
        p = subprocess.run([self.bin, *args, "--config", self.config], capture_output=True, text=True, check=True)
        return p.stdout.strip().splitlines()[-1]

    def start(self):
        self.log = open(os.path.join(self.dir, "server.log"), "ab")
        self.proc = subprocess.Popen([self.bin, "serve", "--config", self.config], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"agentd exited with {self.proc.returncode}; log in {self.dir}/server.log")
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit("agentd did not become healthy")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def request(self, method, path, body=None, key=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = "Bearer " + key
        try:
            conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def invoke(self, key, agent, query, max_tokens):
        status, body = self.request("POST", f"/v1/agents/{agent}/invoke",
                                    {"query": query, "parameters": {"max_tokens": max_tokens}}, key)
        if status != 200:
            raise SystemExit(f"invoke: HTTP {status}: {body[:300]!r}")
        return json.loads(body)

    def stream(self, key, agent, query, max_tokens, session_id):
        """Streams one run; returns (seconds to the first chunk, total seconds, usage)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        body = {"query": query, "parameters": {"max_tokens": max_tokens}, "session_id": session_id}
        t0 = time.perf_counter()
        first = None
        usage = None
        try:
            conn.request("POST", f"/v1/agents/{agent}/stream", body=json.dumps(body),
                         headers={"Content-Type": "application/json", "Authorization": "Bearer " + key})
            r = conn.getresponse()
            if r.status != 200:
                raise SystemExit(f"stream: HTTP {r.status}: {r.read()[:300]!r}")
            event = None
            while True:
                line = r.readline()
                if not line:
                    break
                line = line.decode().rstrip("\r\n")
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    if event == "chunk" and first is None:
                        first = time.perf_counter() - t0
                    elif event == "done":
                        usage = json.loads(line[5:])["usage"]
                    elif event == "error":
                        raise SystemExit("stream error: " + line)
        finally:
            conn.close()
        total = time.perf_counter() - t0
        return (first if first is not None else total), total, usage


def words(n, offset=0):
    return " ".join(WORDS[(offset + i) % len(WORDS)] for i in range(n))


def bench_batching(srv, key, agent, runs, max_tokens):
    prompts = [f"Story {i}: " + words(12, offset=5 * i) for i in range(runs)]
    srv.invoke(key, agent, "warm up", 4)
    t0 = time.perf_counter()
    seq_tokens = 0
    for p in prompts:
        seq_tokens += srv.invoke(key, agent, p, max_tokens)["usage"]["completion_tokens"]
    sequential = time.perf_counter() - t0

    results = [None] * runs

    def one(i):
        results[i] = srv.invoke(key, agent, prompts[i], max_tokens)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(runs)]
    steps0 = engine_steps(srv)
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    concurrent = time.perf_counter() - t0
    steps1 = engine_steps(srv)
    con_tokens = sum(r["usage"]["completion_tokens"] for r in results)
    out = {"runs": runs, "sequential_s": sequential, "concurrent_s": concurrent,
           "ratio": concurrent / sequential, "sequential_tokens": seq_tokens, "concurrent_tokens": con_tokens}
    if steps0 and steps1:
        out["concurrent_engine_steps"] = steps1[0] - steps0[0]
        out["concurrent_fed_tokens"] = steps1[1] - steps0[1]
    return out


def engine_steps(srv):
    """(forward steps, tokens fed) so far from /metrics, or None (a build without them)."""
    status, body = srv.request("GET", "/metrics")
    text = body.decode()
    count = re.search(r'^agentd_engine_batch_tokens_count\{model="bench"\} (\S+)$', text, re.M)
    total = re.search(r'^agentd_engine_batch_tokens_sum\{model="bench"\} (\S+)$', text, re.M)
    if status != 200 or not count or not total:
        return None
    return float(count.group(1)), float(total.group(1))


def bench_session(srv, key, agent, history_tokens, max_tokens, reps):
    n_words = int(history_tokens / 1.3)
    question = "What happened next in the town?"
    warm, cold, warm_prompt, cold_prompt = [], [], 0, 0
    for r in range(reps):
        # Every history is new text (its own tag first), so nothing but the
        # agent's instructions can come from a cache the server kept earlier:
        # agentd shares identical prompt prefixes across requests.
        history = f"Story {2 * r}-{time.time_ns()}: " + words(n_words, offset=7 * r)
        sid = f"bench-warm-{r}-{time.time_ns()}"
        srv.stream(key, agent, history, 8, sid)  # the first turn: its cache is kept
        ttft, _, usage = srv.stream(key, agent, question, max_tokens, sid)
        warm.append(ttft)
        warm_prompt = usage["prompt_tokens"] if usage else 0
        # A first turn of the same length in a fresh session, never sent before:
        # the whole prompt is computed (no cache).
        cold_history = f"Story {2 * r + 1}-{time.time_ns()}: " + words(n_words, offset=7 * r + 3)
        ttft, _, usage = srv.stream(key, agent, cold_history + "\n" + question, max_tokens,
                                    f"bench-cold-{r}-{time.time_ns()}")
        cold.append(ttft)
        cold_prompt = usage["prompt_tokens"] if usage else 0
    w, c = statistics.median(warm), statistics.median(cold)
    return {"warm_ttft_s": w, "cold_ttft_s": c, "ratio": w / c, "warm_prompt_tokens": warm_prompt,
            "cold_prompt_tokens": cold_prompt, "reps": reps}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "src", "app", "agentd"))
    ap.add_argument("--model", default=os.path.join(ROOT, "build", "bench-models", "smollm2-135m-shape-Q8_0.gguf"))
    ap.add_argument("--context", type=int, default=2048)
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--history-tokens", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--parallel", type=int, default=0, help="models[].parallel (default: the binary's)")
    ap.add_argument("--threads", type=int, default=0, help="models[].threads (default: all cores)")
    ap.add_argument("--only", choices=["a", "b"], help="run only part (a) or (b)")
    ap.add_argument("--temperature", default="0", help="the agent's temperature (default 0: greedy; "
                    "above 0 the sampler's cost per token is in the figures too)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    for path in (a.bin, a.model):
        if not os.path.exists(path):
            raise SystemExit(f"not found: {path} (see --help)")

    srv = Server(a.bin, a.model, a.context, a.parallel, a.threads)
    try:
        srv.cli("org", "create", "bench", "--credits", "1000")
        key = srv.cli("key", "create", "--org", "bench")
        agent = srv.cli("agent", "create", "--org", "bench", "--name", "bench_agent", "--model", "bench",
                        "--temperature", a.temperature, "--max-tokens", str(a.max_tokens),
                        "--instructions", "Tell stories.")
        srv.start()
        status, body = srv.request("PATCH", f"/api/v3/agents/{agent}", {"conversation_saving_enabled": True}, key)
        if status != 200:
            raise SystemExit(f"PATCH agent: HTTP {status}: {body[:300]!r}")
        batching = bench_batching(srv, key, agent, a.runs, a.max_tokens) if a.only != "b" else None
        session = bench_session(srv, key, agent, a.history_tokens, a.max_tokens, a.reps) if a.only != "a" else None
    finally:
        srv.stop()

    load = os.getloadavg()[0]
    if a.json:
        print(json.dumps({"binary": a.bin, "model": a.model, "load1": load, "batching": batching,
                          "session": session}))
        return
    b, s = batching, session
    print(f"binary {a.bin}\nmodel  {a.model}\nload   {load:.2f} (1-minute average at the end)")
    if b:
        print(f"(a) {b['runs']} runs of {a.max_tokens} tokens: sequential {b['sequential_s']:.2f} s, "
              f"concurrent {b['concurrent_s']:.2f} s, ratio {b['ratio']:.2f} (target <= 0.40); "
              f"tokens {b['sequential_tokens']} / {b['concurrent_tokens']}")
        if "concurrent_engine_steps" in b:
            print(f"    concurrent: {b['concurrent_engine_steps']:.0f} engine steps, "
                  f"{b['concurrent_fed_tokens']:.0f} tokens fed")
    if s:
        print(f"(b) next turn after {s['warm_prompt_tokens']} prompt tokens: first token warm "
              f"{s['warm_ttft_s'] * 1000:.0f} ms, cold ({s['cold_prompt_tokens']} tokens, fresh session) "
              f"{s['cold_ttft_s'] * 1000:.0f} ms, ratio {s['ratio']:.3f} (target <= 0.20); median of {s['reps']}")


if __name__ == "__main__":
    sys.exit(main())
