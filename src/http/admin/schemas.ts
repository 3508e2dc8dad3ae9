/**
 * JSON schemas shared by the admin routes. Ids are opaque strings looked up with bound
 * parameters, so anything within the length bound is safe: an unknown one is simply a 404.
 */

/** Admin bodies are a few fields; anything near this size is a mistake or an attack (413). */
export const ADMIN_BODY_LIMIT_BYTES = 64 * 1024;

/** `{id}` path parameter. */
export const idParams = {
  type: "object",
  properties: { id: { type: "string", minLength: 1, maxLength: 256 } },
  required: ["id"],
} as const;

/** A positive request or token budget per minute; null clears it. */
const limit = { type: ["integer", "null"], minimum: 1, maximum: 1_000_000_000 } as const;

/** `POST /v0/auth/login`. Lengths are generous: the store, not the schema, decides what is valid. */
export const loginBody = {
  type: "object",
  properties: {
    username: { type: "string", maxLength: 1024 },
    password: { type: "string", maxLength: 4096 },
  },
  required: ["username", "password"],
} as const;

/** `POST /v0/users`. */
export const createUserBody = {
  type: "object",
  properties: {
    username: { type: "string", minLength: 1, maxLength: 128 },
    password: { type: "string", minLength: 1, maxLength: 1024 },
    role: { type: "string", enum: ["admin", "user"] },
  },
  required: ["username", "password"],
  // Unknown fields are refused, not silently dropped: a typo must not look like success.
  propertyNames: { enum: ["username", "password", "role"] },
} as const;

/** `PATCH /v0/users/{id}`. */
export const patchUserBody = {
  type: "object",
  properties: {
    role: { type: "string", enum: ["admin", "user"] },
    disabled: { type: "boolean" },
    password: { type: "string", minLength: 1, maxLength: 1024 },
  },
  minProperties: 1,
  // Unknown fields are refused, not silently dropped: a typo must not look like success.
  propertyNames: { enum: ["role", "disabled", "password"] },
} as const;

/** `POST /v0/api-keys` (the body is optional: every field has a default). */
export const createApiKeyBody = {
  type: ["object", "null"],
  properties: {
    name: { type: "string", minLength: 1, maxLength: 200 },
    scopes: {
      type: "array",
      items: { type: "string", enum: ["inference", "admin"] },
      minItems: 1,
      maxItems: 2,
      uniqueItems: true,
    },
    owner_user_id: { type: "string", minLength: 1, maxLength: 256 },
    rpm_limit: limit,
    tpm_limit: limit,
  },
  // Unknown fields are refused, not silently dropped: a typo must not look like success.
  propertyNames: { enum: ["name", "scopes", "owner_user_id", "rpm_limit", "tpm_limit"] },
} as const;

/** `POST /v0/node-tokens` (the body is optional). */
export const createNodeTokenBody = {
  type: ["object", "null"],
  properties: { name: { type: "string", minLength: 1, maxLength: 200 } },
  // Unknown fields are refused, not silently dropped: a typo must not look like success.
  propertyNames: { enum: ["name"] },
} as const;

/** `POST /v0/nodes/{id}/drain` (the body is optional). */
export const drainBody = {
  type: ["object", "null"],
  properties: { reason: { type: "string", maxLength: 200 } },
  // Unknown fields are refused, not silently dropped: a typo must not look like success.
  propertyNames: { enum: ["reason"] },
} as const;
