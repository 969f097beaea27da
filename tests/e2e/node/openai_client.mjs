// Drives agentd's OpenAI-compatible endpoint with the official `openai`
// package. Env: AGENTD_URL (http://127.0.0.1:PORT/v1), AGENTD_KEY, AGENT (the
// agent's name, used as `model`), MODEL_ID (a catalog model id, run directly).
// Prints one JSON object with what each call returned, for
// tests/e2e/test_runs_openai.py to check.
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.env.AGENTD_URL, apiKey: process.env.AGENTD_KEY, maxRetries: 0 });
const model = process.env.AGENT;
const out = {};

const plain = await client.chat.completions.create({
  model,
  messages: [{ role: "user", content: "Once upon a time" }],
  max_tokens: 6,
  temperature: 0,
});
out.plain = plain;

const stream = await client.chat.completions.create({
  model,
  messages: [{ role: "user", content: "Once upon a time" }],
  max_tokens: 6,
  temperature: 0,
  stream: true,
  stream_options: { include_usage: true },
});
out.chunks = [];
for await (const chunk of stream) out.chunks.push(chunk);

out.model_run = await client.chat.completions.create({
  model: process.env.MODEL_ID,
  messages: [{ role: "user", content: "Once upon a time" }],
  max_tokens: 4,
  temperature: 0,
});

const models = await client.models.list();
out.models = models.data;

try {
  await client.chat.completions.create({ model: "no_such_agent", messages: [{ role: "user", content: "x" }] });
  out.missing = null;
} catch (e) {
  out.missing = { status: e.status, message: e.message, name: e.constructor.name };
}

process.stdout.write(JSON.stringify(out));
