// A reference JSON Schema validator for the structured-output tests: ajv
// (draft 2020-12, or draft-07 when the schema uses its tuple spelling) with
// ajv-formats. Reads {"schema": ..., "texts": ["...", ...]} on stdin and
// prints [{"valid": bool, "error": "..."}] in order: a text that is not JSON
// is invalid with the parser's message.
import Ajv from "ajv";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const { schema, texts } = JSON.parse(Buffer.concat(chunks).toString("utf8"));

const draft07 = JSON.stringify(schema).includes('"additionalItems"') || usesTupleItems(schema);
const ajv = draft07 ? new Ajv({ strict: false, allErrors: true }) : new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
const validate = ajv.compile(schema);

function usesTupleItems(s) {
  if (Array.isArray(s)) return s.some(usesTupleItems);
  if (s === null || typeof s !== "object") return false;
  if (Array.isArray(s.items)) return true;
  return Object.values(s).some(usesTupleItems);
}

const out = texts.map((text) => {
  let value;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { valid: false, error: "not JSON: " + e.message };
  }
  const valid = validate(value);
  return { valid, error: valid ? "" : ajv.errorsText(validate.errors) };
});
process.stdout.write(JSON.stringify(out));
