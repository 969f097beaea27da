// Structured output and tools through the official `openai` package:
// parse() with a zod schema (zodResponseFormat turns it into response_format
// json_schema and the SDK parses and checks the answer), a streamed answer
// checked by zod after the fact, a runTools() loop that runs the function
// the model calls, and streamed tool calls put together by the SDK's
// stream helper. Env: AGENTD_URL, AGENTD_KEY, MODEL_ID. Prints one JSON
// object for tests/e2e/test_structured_output.py.
import OpenAI from "openai";
import { zodResponseFormat } from "openai/helpers/zod";
import { z } from "zod";

const client = new OpenAI({ baseURL: process.env.AGENTD_URL, apiKey: process.env.AGENTD_KEY, maxRetries: 0 });
const Review = z.object({
  mood: z.enum(["happy", "sad"]),
  rating: z.number().int().min(1).max(5),
  tags: z.array(z.string().max(10)).max(3),
  summary: z.string().max(40).nullable(),
});
const out = { parsed: [] };
for (const seed of [1, 2, 3]) {
  const completion = await client.beta.chat.completions.parse({
    model: process.env.MODEL_ID,
    messages: [{ role: "user", content: "Review the film." }],
    response_format: zodResponseFormat(Review, "review"),
    temperature: 1,
    seed,
    max_tokens: 300,
  });
  out.parsed.push(completion.choices[0].message.parsed);
}
const stream = await client.chat.completions.create({
  model: process.env.MODEL_ID,
  messages: [{ role: "user", content: "Review the film." }],
  response_format: zodResponseFormat(Review, "review"),
  temperature: 1,
  seed: 9,
  max_tokens: 300,
  stream: true,
});
let text = "";
for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
out.streamed = text;
out.streamed_valid = Review.safeParse(JSON.parse(text)).success;

// runTools: the SDK calls `add` with the arguments the model wrote and sends
// the result back (a named tool_choice: one call, then the SDK stops).
out.add_calls = [];
const addParams = {
  type: "object",
  properties: { a: { type: "integer", minimum: -50, maximum: 50 }, b: { type: "integer", minimum: -50, maximum: 50 } },
  required: ["a", "b"],
  additionalProperties: false,
};
const runner = client.beta.chat.completions.runTools({
  model: process.env.MODEL_ID,
  messages: [{ role: "user", content: "Add two numbers." }],
  tools: [{ type: "function", function: { name: "add", parameters: addParams, parse: JSON.parse,
    function: ({ a, b }) => { out.add_calls.push([a, b]); return String(a + b); } } }],
  tool_choice: { type: "function", function: { name: "add" } },
  temperature: 1,
  seed: 4,
  max_tokens: 100,
});
await runner.done();
out.run_messages = runner.messages.map((m) => m.role);

// Streamed tool calls, assembled by the SDK's stream helper.
const toolStream = client.beta.chat.completions.stream({
  model: process.env.MODEL_ID,
  messages: [{ role: "user", content: "Add two numbers." }],
  tools: [{ type: "function", function: { name: "add", parameters: addParams } }],
  tool_choice: "required",
  parallel_tool_calls: false,
  temperature: 1,
  seed: 6,
  max_tokens: 100,
});
const final = await toolStream.finalChatCompletion();
out.streamed_call = final.choices[0].message.tool_calls;
out.streamed_finish = final.choices[0].finish_reason;
process.stdout.write(JSON.stringify(out));
