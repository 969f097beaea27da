"""Structured output and tools over HTTP: answers that keep their promise.

A random-weight model (made here by `agentd make-model` with the
tiny-random-Q8_0 vocabulary and a 4096-token context) sampled at
temperature 1 writes noise, so every answer that is valid JSON matching its schema is the
grammar's doing. Each answer is checked by a reference validator, ajv with
ajv-formats (tests/e2e/node/validate_json.mjs), never by agentd's own code:

- POST /v1/chat/completions with response_format json_schema and
  json_object (raw HTTP and the official openai npm package's
  chat.completions.parse with a zod schema, streamed too);
- a Roe agent whose engine_config.output_schema the local model must meet;
- tools (required, named, auto, none, streamed, through Qwen2.5's own
  template checked against Jinja2, the SDK's runTools), logprobs,
  logit_bias, GBNF grammars;
- refusals: a schema keyword that cannot be enforced, unknown fields.

The command line's side (agentd generate --json-schema over every schema of
schemas_for_tests.py) is test_structured_generate.py.
"""

import atexit
import json
import math
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from harness import AGENTD_BIN, TINY_Q8, ServerTestCase
from schemas_for_tests import SCHEMAS

NODE_DIR = os.path.join(os.environ.get("AGENTD_SOURCE_DIR", ""), "tests", "e2e", "node")
_MODEL_DIR = tempfile.mkdtemp(prefix="agentd-structured-")
atexit.register(shutil.rmtree, _MODEL_DIR, True)
RANDOM_MODEL = os.path.join(_MODEL_DIR, "random.gguf")


def random_model():
    """A random-weight model with room for long prompts and answers."""
    if not os.path.exists(RANDOM_MODEL):
        subprocess.run([AGENTD_BIN, "make-model", "-o", RANDOM_MODEL, "--dim", "64", "--layers", "2", "--heads", "4",
                        "--kv-heads", "2", "--ffn", "128", "--vocab-from", TINY_Q8, "--type", "Q8_0",
                        "--context-length", "4096", "--seed", "5"], check=True, capture_output=True, timeout=120)
    return RANDOM_MODEL


def validate(schema, texts):
    """ajv's verdict on each text: [(valid, error)]."""
    p = subprocess.run(["node", os.path.join(NODE_DIR, "validate_json.mjs")],
                       input=json.dumps({"schema": schema, "texts": texts}), capture_output=True, text=True,
                       timeout=120, cwd=NODE_DIR)
    if p.returncode != 0:
        raise AssertionError("validate_json.mjs failed: " + p.stderr)
    return [(v["valid"], v["error"]) for v in json.loads(p.stdout)]


TEMPLATES = os.path.join(os.environ.get("AGENTD_TESTDATA_DIR", ""), "templates")
QWEN_TEMPLATE = os.path.join(TEMPLATES, "Qwen-Qwen2.5-7B-Instruct.jinja")
LLAMA_TEMPLATE = os.path.join(TEMPLATES, "meta-llama-Llama-3.2-3B-Instruct.jinja")


def render_reference(template_path, messages, tools):
    """The prompt as Jinja2 renders it (render_reference.py under Debian's python3)."""
    with open(template_path) as f:
        template = f.read()
    request = {"template": template, "messages": messages, "tools": tools, "add_generation_prompt": True,
               "bos_token": "<s>", "eos_token": "</s>"}
    p = subprocess.run(["/usr/bin/python3", os.path.join(os.path.dirname(__file__), "render_reference.py")],
                       input=json.dumps(request), capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError("render_reference.py failed (python3-jinja2 is installed by scripts/install-deps.sh): "
                             + p.stderr)
    return p.stdout


def as_hugging_face(messages):
    """OpenAI messages as Hugging Face passes them to a template: a call's
    arguments as an object rather than JSON text, the rest as given."""
    hf = json.loads(json.dumps(messages))
    for m in hf:
        for c in m.get("tool_calls", []):
            c["function"]["arguments"] = json.loads(c["function"]["arguments"])
    return hf


def tokenize(text):
    """The prompt's ids with one BOS, as llama.cpp's server feeds a rendered
    template: the template's own when it wrote one, else one added."""
    add = [] if text.startswith("<s>") else ["--add-special"]
    p = subprocess.run([AGENTD_BIN, "tokenize", "-m", random_model(), *add, "--parse-special", text],
                       capture_output=True, text=True, timeout=60, check=True)
    return json.loads(p.stdout)


def generate(schema, runs, max_tokens, seed):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(schema, f)
        path = f.name
    try:
        p = subprocess.run([AGENTD_BIN, "generate", "-m", random_model(), "-p", "Write the JSON answer.",
                            "--json-schema", path, "--temperature", "1", "--seed", str(seed), "--runs", str(runs),
                            "-n", str(max_tokens), "--json"], capture_output=True, text=True, timeout=300)
    finally:
        os.unlink(path)
    if p.returncode != 0:
        raise AssertionError(f"agentd generate failed ({p.returncode}): {p.stderr}")
    # split("\n"), not splitlines(): a text may hold U+2028 and its kin.
    return [json.loads(line) for line in p.stdout.split("\n") if line.strip()]


class StructuredServerTest(ServerTestCase):
    # What these check happens in the engine and the API, never in the store;
    # runs, usage and credits are checked on both stores by test_runs_*.
    storage_backends = ("sqlite",)

    @classmethod
    def setUpClass(cls):
        cls.server_kwargs = {"models": [
            {"id": "tiny-q8", "name": "Random 4k", "backend": "local", "path": random_model(),
             "context": 4096, "price_input_per_mtok": 0.10, "price_output_per_mtok": 0.20},
            {"id": "qwen-t", "name": "Random 4k, Qwen2.5's template", "backend": "local", "path": random_model(),
             "context": 4096, "price_input_per_mtok": 0.10, "price_output_per_mtok": 0.20,
             "chat_template_file": QWEN_TEMPLATE},
            {"id": "llama-t", "name": "Random 4k, Llama 3.2's template", "backend": "local", "path": random_model(),
             "context": 4096, "price_input_per_mtok": 0.10, "price_output_per_mtok": 0.20,
             "chat_template_file": LLAMA_TEMPLATE},
            # Never reached: the refusal comes before any request.
            {"id": "up", "name": "Upstream", "backend": "openai", "base_url": "http://127.0.0.1:9/v1",
             "upstream_model": "m", "context": 2048, "price_input_per_mtok": 1.0, "price_output_per_mtok": 1.0,
             "max_retries": 0}]}

    def tenant(self):
        self.srv.create_org("acme", credits=50)
        return self.srv.create_key("acme")

    def chat(self, key, **body):
        body.setdefault("model", "tiny-q8")
        body.setdefault("messages", [{"role": "user", "content": "Give me the data."}])
        return self.srv.post("/v1/chat/completions", body, key=key)

    def check_response_format_json_schema(self):
        key = self.tenant()
        for name in ("person", "invoice", "tags_unique", "event_union"):
            schema = SCHEMAS[name]
            texts = []
            for seed in range(2):
                r = self.chat(key, temperature=1, seed=seed, max_tokens=400,
                              response_format={"type": "json_schema",
                                               "json_schema": {"name": name, "schema": schema, "strict": True}})
                self.assertEqual(r.status, 200, r)
                choice = r.json()["choices"][0]
                self.assertEqual(choice["finish_reason"], "stop", choice)
                texts.append(choice["message"]["content"])
                self.assertGreater(r.json()["usage"]["completion_tokens"], 0)
            for text, (ok, err) in zip(texts, validate(schema, texts)):
                self.assertTrue(ok, f"{name}: {err}: {text!r}")

    def check_response_format_json_object_and_stream(self):
        key = self.tenant()
        r = self.chat(key, temperature=1, seed=3, max_tokens=120, response_format={"type": "json_object"})
        self.assertEqual(r.status, 200, r)
        text = r.json()["choices"][0]["message"]["content"]
        self.assertIsInstance(json.loads(text), dict, text)
        # Streamed: the pieces put together are the same valid answer.
        schema = SCHEMAS["classification"]
        raw = self.srv.request("POST", "/v1/chat/completions", {
            "model": "tiny-q8", "messages": [{"role": "user", "content": "Classify."}], "stream": True,
            "temperature": 1, "seed": 5, "max_tokens": 200,
            "response_format": {"type": "json_schema", "json_schema": {"name": "c", "schema": schema}}}, key=key)
        self.assertEqual(raw.status, 200, raw)
        pieces = []
        for line in raw.text.split("\n"):
            if line.startswith("data: ") and line != "data: [DONE]":
                for c in json.loads(line[6:])["choices"]:
                    pieces.append(c["delta"].get("content") or "")
        streamed = "".join(pieces)
        self.assertTrue(validate(schema, [streamed])[0][0], streamed)

    def check_refusals_name_the_field(self):
        key = self.tenant()
        bad = {"type": "object", "properties": {"a": {"not": {"type": "string"}}}}
        r = self.chat(key, response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": bad}})
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json()["error"]["type"], "invalid_request_error")
        self.assertIn("'not'", r.json()["error"]["message"])
        r = self.chat(key, response_format={"type": "xml"})
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json()["error"]["param"], "response_format.type")
        r = self.chat(key, response_format={"type": "json_schema", "json_schema": {"schema": {}}})
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json()["error"]["param"], "response_format.json_schema.name")
        r = self.chat(key, functions=[{"name": "f", "parameters": {}}])
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json()["error"]["param"], "functions")
        r = self.chat(key, frobnicate=1)
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json()["error"]["param"], "frobnicate")
        r = self.chat(key, n=2)
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json()["error"]["param"], "n")
        # Informative fields are accepted, as OpenAI takes them.
        r = self.chat(key, max_tokens=2, user="u-1", metadata={"k": "v"}, store=False, service_tier="auto",
                      frequency_penalty=0.5, presence_penalty=0.2, parallel_tool_calls=True, n=1)
        self.assertEqual(r.status, 200, r)
        # Nothing was charged for the refused requests; the accepted one ran.
        runs = self.srv.get("/api/v3/agents", key=key)
        self.assertEqual(runs.status, 200)

    def check_roe_output_schema_enforced_on_a_local_model(self):
        key = self.tenant()
        schema = {"type": "object", "properties": {
            "title": {"type": "string", "maxLength": 20, "description": "The title"},
            "year": {"type": "integer", "minimum": 1900, "maximum": 2100},
            "genres": {"type": "array", "items": {"enum": ["drama", "comedy"]}, "maxItems": 2}}}
        r = self.srv.post("/v1/agents/", {"name": "Extractor", "engine_class_id": "TextExtractionEngine", "version_name": "v1",
                                          "input_definitions": [{"key": "text", "data_type": "text/plain"}],
                                          "engine_config": {"model": "tiny-q8", "instructions": "Extract.",
                                                            "temperature": 1.0, "max_tokens": 300,
                                                            "output_schema": schema}}, key=key)
        self.assertIn(r.status, (200, 201), r)
        agent_id = r.json()["id"]
        for _ in range(3):
            r = self.srv.post(f"/v1/agents/run/{agent_id}/", {"text": "A film."}, key=key)
            self.assertEqual(r.status, 200, r)
            data = r.json()
            outputs = data if isinstance(data, list) else (data.get("outputs") or data.get("data"))
            by_key = {d["key"]: d for d in outputs}
            self.assertEqual(set(by_key), set(schema["properties"]), outputs)
            for prop, sub in schema["properties"].items():
                value = by_key[prop]["value"]
                text = value if isinstance(value, str) and sub.get("type") != "string" else json.dumps(value)
                ok, err = validate(sub, [text])[0]
                self.assertTrue(ok, f"{prop}: {err}: {text!r}")

    def check_gbnf_grammar(self):
        key = self.tenant()
        gbnf = 'root ::= answer " " pct\nanswer ::= "yes" | "no" | "maybe"\npct ::= [0-9]{1,3} "%"\n'
        reference = re.compile(r"(yes|no|maybe) [0-9]{1,3}%")  # the same language, as Python's re reads it
        for seed in range(4):
            r = self.chat(key, temperature=1, seed=seed, max_tokens=30, grammar=gbnf)
            self.assertEqual(r.status, 200, r)
            text = r.json()["choices"][0]["message"]["content"]
            self.assertRegex(text, reference)
            self.assertIsNotNone(reference.fullmatch(text), text)
        # Text completions take it too, as llama-server does.
        r = self.srv.post("/v1/completions", {"model": "tiny-q8", "prompt": "Answer:", "temperature": 1, "seed": 9,
                                              "max_tokens": 30, "grammar": gbnf}, key=key)
        self.assertEqual(r.status, 200, r)
        self.assertIsNotNone(reference.fullmatch(r.json()["choices"][0]["text"]), r.json())
        r = self.chat(key, grammar="root ::= missing\n")
        self.assertEqual(r.status, 400, r)
        self.assertIn("'missing'", r.json()["error"]["message"])
        r = self.chat(key, grammar=gbnf, response_format={"type": "json_object"})
        self.assertEqual((r.status, r.json()["error"]["param"]), (400, "grammar"))
        r = self.chat(key, model="up", grammar=gbnf)
        self.assertEqual(r.status, 400, r)
        self.assertIn("only on local models", r.json()["error"]["message"])

    TOOLS = [
        {"type": "function", "function": {
            "name": "get_weather", "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {
                "city": {"type": "string", "maxLength": 20},
                "unit": {"enum": ["celsius", "fahrenheit"]}},
                "required": ["city", "unit"], "additionalProperties": False}}},
        {"type": "function", "function": {
            "name": "add", "description": "Adds two integers",
            "parameters": {"type": "object", "properties": {
                "a": {"type": "integer", "minimum": -1000, "maximum": 1000},
                "b": {"type": "integer", "minimum": -1000, "maximum": 1000}},
                "required": ["a", "b"], "additionalProperties": False}}},
    ]

    def assert_valid_calls(self, calls, allowed):
        schemas = {t["function"]["name"]: t["function"]["parameters"] for t in self.TOOLS}
        for c in calls:
            self.assertTrue(c["id"].startswith("call_"), c)
            self.assertEqual(c["type"], "function")
            self.assertIn(c["function"]["name"], allowed)
            ok, err = validate(schemas[c["function"]["name"]], [c["function"]["arguments"]])[0]
            self.assertTrue(ok, f"{err}: {c}")
        self.assertEqual(len({c["id"] for c in calls}), len(calls))

    def check_tool_calls(self):
        key = self.tenant()
        names = ["get_weather", "add"]
        # required: calls from the first token, each valid against its tool's parameters.
        for seed in range(3):
            r = self.chat(key, temperature=1, seed=seed, max_tokens=200, tools=self.TOOLS, tool_choice="required")
            self.assertEqual(r.status, 200, r)
            choice = r.json()["choices"][0]
            self.assertEqual(choice["finish_reason"], "tool_calls", choice)
            self.assertIsNone(choice["message"]["content"], choice)
            self.assertGreaterEqual(len(choice["message"]["tool_calls"]), 1)
            self.assert_valid_calls(choice["message"]["tool_calls"], names)
        # A named tool, one call only.
        r = self.chat(key, temperature=1, seed=1, max_tokens=200, tools=self.TOOLS, parallel_tool_calls=False,
                      tool_choice={"type": "function", "function": {"name": "add"}})
        self.assertEqual(r.status, 200, r)
        calls = r.json()["choices"][0]["message"]["tool_calls"]
        self.assertEqual(len(calls), 1)
        self.assert_valid_calls(calls, ["add"])
        # auto: free text, calls after it or not; none: never a call.
        for seed in range(4):
            r = self.chat(key, temperature=1, seed=seed, max_tokens=60, tools=self.TOOLS)
            self.assertEqual(r.status, 200, r)
            message = r.json()["choices"][0]["message"]
            self.assertNotIn("<tool_call>", message["content"] or "")
            self.assert_valid_calls(message.get("tool_calls", []), names)
            r = self.chat(key, temperature=1, seed=seed, max_tokens=60, tools=self.TOOLS, tool_choice="none")
            self.assertEqual(r.status, 200, r)
            message = r.json()["choices"][0]["message"]
            self.assertNotIn("tool_calls", message)
            self.assertNotIn("<tool_call>", message["content"])
        # Streamed as OpenAI streams calls; the same calls as unstreamed with the same seed.
        body = {"model": "tiny-q8", "messages": [{"role": "user", "content": "Weather?"}], "temperature": 1,
                "seed": 3, "max_tokens": 200, "tools": self.TOOLS, "tool_choice": "required"}
        whole = self.srv.post("/v1/chat/completions", body, key=key).json()["choices"][0]["message"]["tool_calls"]
        raw = self.srv.request("POST", "/v1/chat/completions", dict(body, stream=True), key=key)
        self.assertEqual(raw.status, 200, raw)
        streamed, finish = {}, None
        for line in raw.text.split("\n"):
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            for c in json.loads(line[6:])["choices"]:
                finish = c["finish_reason"] or finish
                for d in c["delta"].get("tool_calls", []):
                    if "id" in d:
                        self.assertNotIn(d["index"], streamed)
                        streamed[d["index"]] = {"id": d["id"], "type": d["type"],
                                                "function": {"name": d["function"]["name"], "arguments": ""}}
                    streamed[d["index"]]["function"]["arguments"] += d["function"].get("arguments", "")
        self.assertEqual(finish, "tool_calls")
        self.assertEqual([(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in streamed.values()],
                         [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in whole])
        # The conversation goes on with the calls and their results.
        r = self.chat(key, max_tokens=5, tools=self.TOOLS, messages=[
            {"role": "user", "content": "Weather in Oslo?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\", \"unit\": \"celsius\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "-3 C, snow"}])
        self.assertEqual(r.status, 200, r)
        self.assertGreater(r.json()["usage"]["prompt_tokens"], 40)

    def check_tool_refusals(self):
        key = self.tenant()
        r = self.chat(key, tools=self.TOOLS, tool_choice={"type": "function", "function": {"name": "nope"}})
        self.assertEqual((r.status, r.json()["error"]["param"]), (400, "tool_choice.function.name"))
        r = self.chat(key, tool_choice="required")
        self.assertEqual((r.status, r.json()["error"]["param"]), (400, "tool_choice"))
        r = self.chat(key, tools=[{"type": "code_interpreter"}])
        self.assertEqual((r.status, r.json()["error"]["param"]), (400, "tools[0].type"))
        bad = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "not": {}}}}]
        r = self.chat(key, tools=bad, tool_choice="required")
        self.assertEqual(r.status, 400, r)
        self.assertIn("'not'", r.json()["error"]["message"])
        r = self.chat(key, messages=[{"role": "tool", "content": "x"}])
        self.assertEqual((r.status, r.json()["error"]["param"]), (400, "messages[0].tool_call_id"))

    def check_tools_through_the_models_own_template(self):
        # Qwen2.5's template (chat_template_file) renders the tools and the
        # calls itself: the prompt is the one Jinja2 renders, token for token.
        key = self.tenant()
        user = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Oslo?"}]
        turn = user + [
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\", \"unit\": \"celsius\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "-3 C, snow"}]
        for messages in (user, turn):
            r = self.chat(key, model="qwen-t", max_tokens=4, tools=self.TOOLS, messages=messages)
            self.assertEqual(r.status, 200, r)
            text = render_reference(QWEN_TEMPLATE, as_hugging_face(messages), self.TOOLS)
            self.assertIn("<tools>", text)
            self.assertEqual(r.json()["usage"]["prompt_tokens"], len(tokenize(text)), text)
        for seed in range(3):
            r = self.chat(key, model="qwen-t", temperature=1, seed=seed, max_tokens=200, tools=self.TOOLS,
                          tool_choice="required")
            self.assertEqual(r.status, 200, r)
            self.assert_valid_calls(r.json()["choices"][0]["message"]["tool_calls"], ["get_weather", "add"])

    def check_tools_in_llama3_syntax(self):
        # Llama 3.2's template renders the tools in the first user message and
        # expects the whole answer to be one {"name": ..., "parameters": ...}.
        key = self.tenant()
        turn = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Oslo?"},
                {"role": "assistant", "content": "", "tool_calls": [
                    {"id": "call_1", "type": "function",
                     "function": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\", \"unit\": \"celsius\"}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "-3 C, snow"}]
        for messages in (turn[:2], turn):
            r = self.chat(key, model="llama-t", max_tokens=4, tools=self.TOOLS, messages=messages)
            self.assertEqual(r.status, 200, r)
            text = render_reference(LLAMA_TEMPLATE, as_hugging_face(messages), self.TOOLS)
            self.assertIn('"parameters": dictionary of argument name', text)
            self.assertEqual(r.json()["usage"]["prompt_tokens"], len(tokenize(text)), text)
        for seed in range(3):
            r = self.chat(key, model="llama-t", temperature=1, seed=seed, max_tokens=200, tools=self.TOOLS,
                          tool_choice="required")
            self.assertEqual(r.status, 200, r)
            calls = r.json()["choices"][0]["message"]["tool_calls"]
            self.assertEqual(len(calls), 1)  # the template takes one call per answer
            self.assert_valid_calls(calls, ["get_weather", "add"])
            r = self.chat(key, model="llama-t", temperature=1, seed=seed, max_tokens=40, tools=self.TOOLS)
            self.assertEqual(r.status, 200, r)
            message = r.json()["choices"][0]["message"]
            self.assertFalse((message["content"] or "").startswith('{"'), message)
            self.assert_valid_calls(message.get("tool_calls", []), ["get_weather", "add"])

    def check_logprobs_of_a_local_model(self):
        key = self.tenant()
        r = self.chat(key, temperature=0, max_tokens=8, logprobs=True, top_logprobs=3)
        self.assertEqual(r.status, 200, r)
        out = r.json()
        content = out["choices"][0]["logprobs"]["content"]
        self.assertEqual(len(content), out["usage"]["completion_tokens"])
        # The tokens' bytes put together are the answer.
        self.assertEqual(bytes(b for t in content for b in t["bytes"]).decode("utf-8", "replace"),
                         out["choices"][0]["message"]["content"])
        for t in content:
            self.assertLessEqual(t["logprob"], 0)
            top = [x["logprob"] for x in t["top_logprobs"]]
            self.assertEqual(len(top), 3)
            self.assertEqual(top, sorted(top, reverse=True))
            self.assertLessEqual(sum(math.exp(x) for x in top), 1.0 + 1e-6)
            # Greedy: the chosen token is the most likely one.
            self.assertAlmostEqual(t["logprob"], top[0], places=4)
        # Without top_logprobs: no alternatives; streamed: the last chunk carries them all.
        r = self.chat(key, temperature=0, max_tokens=8, logprobs=True)
        self.assertEqual([t["top_logprobs"] for t in r.json()["choices"][0]["logprobs"]["content"]],
                         [[] for _ in content])
        raw = self.srv.request("POST", "/v1/chat/completions", {
            "model": "tiny-q8", "messages": [{"role": "user", "content": "Give me the data."}], "stream": True,
            "temperature": 0, "max_tokens": 8, "logprobs": True, "top_logprobs": 3}, key=key)
        streamed = []
        for line in raw.text.split("\n"):
            if line.startswith("data: ") and line != "data: [DONE]":
                for c in json.loads(line[6:])["choices"]:
                    if c.get("logprobs"):
                        streamed += c["logprobs"]["content"]
        self.assertEqual(streamed, content)
        r = self.chat(key, top_logprobs=2)
        self.assertEqual((r.status, r.json()["error"]["param"]), (400, "top_logprobs"))
        r = self.chat(key, logprobs=True, top_logprobs=21)
        self.assertEqual((r.status, r.json()["error"]["param"]), (400, "top_logprobs"))

    def check_logit_bias(self):
        key = self.tenant()
        plain = self.chat(key, temperature=0, max_tokens=4, logprobs=True).json()["choices"][0]["logprobs"]["content"]
        # +100 on one token: greedy picks it every time.
        r = self.chat(key, temperature=0, max_tokens=4, logprobs=True, logit_bias={"1000": 100})
        self.assertEqual(r.status, 200, r)
        biased = r.json()["choices"][0]["logprobs"]["content"]
        self.assertEqual(len({bytes(t["bytes"]) for t in biased}), 1, biased)
        self.assertNotEqual([t["bytes"] for t in biased], [t["bytes"] for t in plain])
        for bad, param in (({"x": 1}, "logit_bias"), ({"5": 101}, "logit_bias.5")):
            r = self.chat(key, logit_bias=bad)
            self.assertEqual((r.status, r.json()["error"]["param"]), (400, param))
        r = self.chat(key, logit_bias={"99999999": 1})
        self.assertEqual(r.status, 400, r)
        self.assertIn("not in the vocabulary", r.json()["error"]["message"])

    def check_official_sdk_parse_tools_and_streams(self):
        key = self.tenant()
        env = dict(os.environ, AGENTD_URL=f"http://127.0.0.1:{self.srv.port}/v1", AGENTD_KEY=key, MODEL_ID="tiny-q8")
        p = subprocess.run(["node", os.path.join(NODE_DIR, "structured_client.mjs")], capture_output=True,
                           text=True, env=env, timeout=180, cwd=NODE_DIR)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)
        self.assertEqual(len(out["parsed"]), 3)
        for parsed in out["parsed"]:
            self.assertIsNotNone(parsed, out)
            self.assertIn(parsed["mood"], ("happy", "sad"))
            self.assertTrue(1 <= parsed["rating"] <= 5)
            self.assertLessEqual(len(parsed["tags"]), 3)
        self.assertTrue(out["streamed_valid"], out)
        # runTools ran the function once with integers the schema allows, and sent the result back.
        self.assertEqual(len(out["add_calls"]), 1, out)
        for v in out["add_calls"][0]:
            self.assertIsInstance(v, int)
            self.assertTrue(-50 <= v <= 50, out)
        self.assertEqual(out["run_messages"], ["user", "assistant", "tool"])
        [call] = out["streamed_call"]
        self.assertEqual((call["type"], call["function"]["name"], out["streamed_finish"]), ("function", "add", "tool_calls"))
        args = json.loads(call["function"]["arguments"])
        self.assertEqual(set(args), {"a", "b"})


if __name__ == "__main__":
    unittest.main()
