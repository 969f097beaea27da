"""Renders a chat template the way Hugging Face's apply_chat_template does
(Jinja2's sandbox, trim_blocks, lstrip_blocks, loop controls, a tojson that
keeps non-ASCII text, raise_exception, strftime_now), as
testdata/templates/render_expected.py does. Run with Debian's python3, which
has python3-jinja2 (scripts/install-deps.sh): it is the reference agentd's
own renderer is checked against.

stdin: {"template": "...", "messages": [...], "tools": [...] | null,
        "add_generation_prompt": true, "bos_token": "...", "eos_token": "..."}
stdout: the rendered text."""

import json
import sys

from jinja2 import TemplateError
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


def raise_exception(message):
    raise TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception
env.globals["strftime_now"] = lambda fmt: "26 Jul 2024"

request = json.load(sys.stdin)
context = {k: request[k] for k in ("messages", "add_generation_prompt", "bos_token", "eos_token")}
if request.get("tools") is not None:
    context["tools"] = request["tools"]
sys.stdout.write(env.from_string(request["template"]).render(**context))
