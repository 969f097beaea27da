#!/usr/bin/env python3
"""A small real HTTP server speaking the OpenAI chat-completions protocol on
loopback, for the upstream backend's tests (retries, timeouts, errors,
streaming). Standard library only.

Prints its port on the first line of stdout, then serves until stdin closes
(so it never outlives the test that started it).

POST /v1/chat/completions: the request's "model" picks the behaviour; state
that spans attempts (e.g. "503 once, then 200") is counted per X-Request-ID.
  ok           SSE: "Hel", "lo", " world" with logprobs, then a usage chunk, [DONE]
  echo         SSE: the request (headers we care about + body) as JSON text, [DONE]
  plain        SSE without logprobs and without usage
  json         a non-streamed chat.completion (a provider that ignores stream)
  flaky        503 {"error":{"message":"overloaded"}} on the first attempt, then as ok
  down         503 on every attempt; the message counts attempts ("overloaded (attempt N)")
  ratelimited  429 with Retry-After: 1 on the first attempt, then as ok
  bad          400 {"error":{"message":"max_tokens is too large"}}
  slow         waits 3 s before answering
  stall        sends one chunk, then waits 3 s
  malformed    SSE whose first event is not JSON
  cut          sends one chunk and closes the connection without [DONE]
  ratelimited_date  429 with Retry-After as an HTTP date 2 s ahead on the first attempt, then as ok
  ratelimited_far   429 with Retry-After as an HTTP date an hour ahead on the first attempt, then as ok
  schema       SSE whose text is the JSON object SCHEMA_ANSWER (in two chunks), then usage, [DONE]
  hang         reads the request and never answers (until the server stops)
  drip         SSE: "tick " every 50 ms until the client goes away (at most 60 s)
  tools        SSE: two tool calls streamed as OpenAI streams them (TOOL_CALLS: id, type
               and name first, the arguments in pieces), finish_reason tool_calls, usage

POST /v1/embeddings {model, input: [text], dimensions?}: for each text the
vector embedding_of(text, dimensions) (below), in reverse order of index (as a
provider may), usage.prompt_tokens = the number of words; model "down" 503.

GET /seen -> {"requests": [[model, X-Request-ID, attempts], ...]}: what was asked.
"""

import email.utils

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ATTEMPTS = {}
LOCK = threading.Lock()
STOPPING = threading.Event()  # set when stdin closes

# What the "tools" model calls.
TOOL_CALLS = [("call_up1", "get_weather", '{"city": "Oslo", "unit": "celsius"}'),
              ("call_up2", "add", '{"a": 2, "b": 3}')]

# What the "schema" model answers: one JSON object with a value of each JSON type.
SCHEMA_ANSWER = {"total": 42, "label": "ok", "tags": ["a", "b"], "detail": {"x": 1.5}, "done": True}


def chunk(content=None, logprob=None, finish=None, usage=None):
    c = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": "up"}
    if usage is not None:
        c["choices"] = []
        c["usage"] = usage
        return c
    choice = {"index": 0, "delta": {}, "finish_reason": finish}
    if content is not None:
        choice["delta"] = {"role": "assistant", "content": content}
    if logprob is not None:
        choice["logprobs"] = {"content": [{"token": content, "logprob": logprob, "top_logprobs": []}]}
    c["choices"] = [choice]
    return c


OK_EVENTS = [
    chunk("Hel", -0.5),
    chunk("lo", -1.0),
    chunk(" world", -1.5),
    chunk(finish="stop"),
    chunk(usage={"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14,
                 "prompt_tokens_details": {"cached_tokens": 4}}),
]


def embedding_of(text, dimensions=None):
    """What the embeddings route answers for one text: [characters, words,
    vowels], then 0.5, 0.25, ... up to `dimensions` (3 when not given)."""
    v = [float(len(text)), float(len(text.split())), float(sum(c in "aeiou" for c in text.lower()))]
    n = dimensions or 3
    while len(v) < n:
        v.append(0.5 ** (len(v) - 2))
    return v[:n]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def attempt(self, model):
        key = (model, self.headers.get("X-Request-ID", ""))
        with LOCK:
            ATTEMPTS[key] = ATTEMPTS.get(key, 0) + 1
            return ATTEMPTS[key]

    def send_json(self, code, obj, extra=None):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def start_sse(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def event(self, data):
        text = data if isinstance(data, str) else json.dumps(data)
        self.wfile.write(f"data: {text}\n\n".encode())
        self.wfile.flush()

    def stream(self, events):
        self.start_sse()
        for e in events:
            self.event(e)
        self.event("[DONE]")

    def embeddings(self, req):
        n = self.attempt(req.get("model", ""))
        if req.get("model") == "down":
            self.send_json(503, {"error": {"message": f"overloaded (attempt {n})"}})
            return
        texts = req["input"]
        data = [{"object": "embedding", "index": i, "embedding": embedding_of(t, req.get("dimensions"))}
                for i, t in enumerate(texts)]
        words = sum(len(t.split()) for t in texts)
        self.send_json(200, {"object": "list", "data": list(reversed(data)), "model": req.get("model"),
                             "usage": {"prompt_tokens": words, "total_tokens": words}})

    def do_GET(self):
        if self.path == "/seen":
            with LOCK:
                seen = [[m, rid, n] for (m, rid), n in ATTEMPTS.items()]
            self.send_json(200, {"requests": seen})
        else:
            self.send_json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        if self.path == "/v1/embeddings":
            self.embeddings(json.loads(raw))
            return
        if self.path != "/v1/chat/completions":
            self.send_json(404, {"error": {"message": f"no route {self.path}"}})
            return
        try:
            req = json.loads(raw)
        except ValueError:
            self.send_json(400, {"error": {"message": "body is not JSON"}})
            return
        model = req.get("model", "")
        n = self.attempt(model)
        if model == "ok":
            self.stream(OK_EVENTS)
        elif model == "echo":
            seen = {"body": req, "authorization": self.headers.get("Authorization"),
                    "request_id": self.headers.get("X-Request-ID"), "accept": self.headers.get("Accept")}
            self.stream([chunk(json.dumps(seen)), chunk(finish="stop")])
        elif model == "plain":
            self.stream([chunk("abcdefgh"), chunk(finish="length")])
        elif model == "json":
            self.send_json(200, {"id": "c", "object": "chat.completion", "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "whole answer"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}})
        elif model == "flaky":
            if n == 1:
                self.send_json(503, {"error": {"message": "overloaded"}})
            else:
                self.stream(OK_EVENTS)
        elif model == "down":
            self.send_json(503, {"error": {"message": f"overloaded (attempt {n})"}})
        elif model == "ratelimited":
            if n == 1:
                self.send_json(429, {"error": {"message": "slow down"}}, {"Retry-After": "1"})
            else:
                self.stream(OK_EVENTS)
        elif model == "bad":
            self.send_json(400, {"error": {"message": "max_tokens is too large"}})
        elif model == "slow":
            time.sleep(3)
            self.stream(OK_EVENTS)
        elif model == "stall":
            self.start_sse()
            self.event(chunk("first", -0.1))
            time.sleep(3)
        elif model == "malformed":
            self.start_sse()
            self.event("{not json")
        elif model == "cut":
            self.start_sse()
            self.event(chunk("partial", -0.1))
        elif model in ("ratelimited_date", "ratelimited_far"):
            if n == 1:
                ahead = 2 if model == "ratelimited_date" else 3600
                date = email.utils.formatdate(int(time.time()) + ahead, usegmt=True)
                self.send_json(429, {"error": {"message": "slow down"}}, {"Retry-After": date})
            else:
                self.stream(OK_EVENTS)
        elif model == "schema":
            text = json.dumps(SCHEMA_ANSWER)
            half = len(text) // 2
            self.stream([chunk(text[:half]), chunk(text[half:]), chunk(finish="stop"),
                         chunk(usage={"prompt_tokens": 20, "completion_tokens": 12, "total_tokens": 32})])
        elif model == "tools":
            events = []
            for i, (call_id, name, args) in enumerate(TOOL_CALLS):
                head = chunk()
                head["choices"][0]["delta"] = {"role": "assistant", "content": None, "tool_calls": [
                    {"index": i, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}]}
                events.append(head)
                for piece in (args[:7], args[7:]):
                    c = chunk()
                    c["choices"][0]["delta"] = {"tool_calls": [{"index": i, "function": {"arguments": piece}}]}
                    events.append(c)
            events += [chunk(finish="tool_calls"),
                       chunk(usage={"prompt_tokens": 30, "completion_tokens": 25, "total_tokens": 55})]
            self.stream(events)
        elif model == "hang":
            STOPPING.wait()
        elif model == "drip":
            self.start_sse()
            try:
                for _ in range(1200):
                    if STOPPING.wait(0.05):
                        break
                    self.event(chunk("tick "))
            except OSError:
                pass  # the client went away
        else:
            self.send_json(404, {"error": {"message": f"unknown model {model}"}})


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()  # until the test closes our stdin (or dies)
    STOPPING.set()


if __name__ == "__main__":
    main()
