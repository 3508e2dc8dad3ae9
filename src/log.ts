import pino, { type Logger } from "pino";

/**
 * JSON logs (pino). Credentials are redacted wherever they might appear; request bodies (prompts)
 * are never passed to the logger in the first place.
 */
export function createLogger(level: string, name: string): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: [
        "req.headers.authorization",
        "req.headers['x-api-key']",
        "headers.authorization",
        "password",
        "token",
        "key",
        "*.password",
        "*.token",
      ],
      censor: "[redacted]",
    },
  });
}
