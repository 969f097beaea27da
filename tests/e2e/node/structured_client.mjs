// Structured output through the official `openai` package: parse() with a
// zod schema (zodResponseFormat turns it into response_format json_schema
// and the SDK parses and checks the answer), and a streamed answer checked by
// zod after the fact. Env: AGENTD_URL, AGENTD_KEY, MODEL_ID. Prints one JSON
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
process.stdout.write(JSON.stringify(out));
