/** JSON schemas of the OpenAI request bodies; unknown fields pass through to the engine. */

const nullable = (t: string) => ({ type: [t, "null"] });
const numberIn = (minimum: number, maximum: number) => ({ type: ["number", "null"], minimum, maximum });

const common = {
  model: { type: "string", minLength: 1, maxLength: 256 },
  stream: nullable("boolean"),
  stream_options: {
    type: ["object", "null"],
    properties: { include_usage: { type: "boolean" } },
  },
  max_tokens: { type: ["integer", "null"], minimum: 1, maximum: 1_000_000 },
  temperature: numberIn(0, 2),
  top_p: numberIn(0, 1),
  // One choice per request: the control plane streams one sequence per job.
  n: { type: ["integer", "null"], minimum: 1, maximum: 1 },
  stop: {
    anyOf: [{ type: "string" }, { type: "array", items: { type: "string" }, maxItems: 16 }, { type: "null" }],
  },
  seed: nullable("integer"),
  presence_penalty: numberIn(-2, 2),
  frequency_penalty: numberIn(-2, 2),
  user: { type: "string", maxLength: 256 },
};

/** POST /v1/chat/completions */
export const chatCompletionSchema = {
  type: "object",
  required: ["model", "messages"],
  properties: {
    ...common,
    max_completion_tokens: { type: ["integer", "null"], minimum: 1, maximum: 1_000_000 },
    messages: {
      type: "array",
      minItems: 1,
      maxItems: 100_000,
      items: {
        type: "object",
        required: ["role"],
        properties: {
          role: { type: "string", enum: ["system", "developer", "user", "assistant", "tool", "function"] },
          content: { anyOf: [{ type: "string" }, { type: "array" }, { type: "null" }] },
          name: { type: "string", maxLength: 256 },
        },
      },
    },
  },
} as const;

/** POST /v1/completions */
export const completionSchema = {
  type: "object",
  required: ["model", "prompt"],
  properties: {
    ...common,
    prompt: {
      anyOf: [{ type: "string" }, { type: "array", minItems: 1, maxItems: 1, items: { type: "string" } }],
    },
    echo: nullable("boolean"),
  },
} as const;

/** POST /v1/embeddings */
export const embeddingSchema = {
  type: "object",
  required: ["model", "input"],
  properties: {
    model: common.model,
    input: {
      anyOf: [
        { type: "string", minLength: 1 },
        {
          type: "array",
          minItems: 1,
          maxItems: 2048,
          items: {
            anyOf: [{ type: "string" }, { type: "integer" }, { type: "array", items: { type: "integer" } }],
          },
        },
      ],
    },
    encoding_format: { type: "string", enum: ["float", "base64"] },
    dimensions: { type: "integer", minimum: 1 },
    user: common.user,
  },
} as const;
