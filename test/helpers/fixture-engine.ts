import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { EngineKindName } from "../../src/agent/engines/types.js";
import { readFixture } from "./shared-fixtures.js";

/** A canned answer: a fixture file (relative to shared/fixtures) or an inline body. */
export interface FixtureRoute {
  status?: number;
  /** Fixture path relative to shared/fixtures, e.g. "engines/llamacpp/slots-2-slots.json". */
  file?: string;
  body?: string;
  contentType?: string;
}

/** Options of startFixtureEngine. */
export interface FixtureEngineOptions {
  kind: EngineKindName;
  /** /metrics page (fixture path); defaults per kind, see DEFAULT_ROUTES. */
  metricsFile?: string;
  /** /v1/models body (fixture path); defaults per kind. */
  modelsFile?: string;
  /** Extra routes, or overrides of the defaults ("/slots", "/sim/gpu", "/version", …). */
  routes?: Record<string, FixtureRoute>;
  /** Fixed port (to bring an engine back on the port it had); default 0 = any free port. */
  port?: number;
}

/** A running stand-in engine. */
export interface FixtureEngine {
  url: string;
  port: number;
  /** false makes the health endpoint answer as the real engine does when unhealthy (503). */
  setHealthy(healthy: boolean): void;
  /** Paths requested so far, in order. */
  readonly requests: readonly string[];
  /** Stops listening and drops open (keep-alive) connections. */
  close(): Promise<void>;
}

const PROM = "text/plain; version=0.0.4; charset=utf-8";
const JSON_TYPE = "application/json";

/** TGI's /info built from the `example` values of its OpenAPI schema (integers typed as numbers). */
function tgiInfoFromSchema(): string {
  const schema = JSON.parse(readFixture("engines/tgi/info-schema.openapi.json")) as {
    properties: Record<string, { type: string; example?: string }>;
  };
  const info: Record<string, unknown> = {};
  for (const [key, prop] of Object.entries(schema.properties)) {
    if (prop.example === undefined || prop.example === "null") continue;
    info[key] = prop.type === "integer" ? Number(prop.example) : prop.example;
  }
  return JSON.stringify(info);
}

function defaultRoutes(opts: FixtureEngineOptions): Record<string, FixtureRoute> {
  const metrics = (file: string | undefined): Record<string, FixtureRoute> =>
    file === undefined ? {} : { "/metrics": { file, contentType: PROM } };
  const models = (file: string | undefined): Record<string, FixtureRoute> =>
    file === undefined ? {} : { "/v1/models": { file, contentType: JSON_TYPE } };
  switch (opts.kind) {
    case "vllm":
    case "sim":
      return {
        "/health": { body: "" },
        ...metrics(opts.metricsFile ?? "engines/vllm/metrics-v1-nvcr-25.09-qwen3-4b.prom"),
        ...models(opts.modelsFile ?? "engines/vllm/v1-models-lora-aibrix.json"),
      };
    case "sglang":
      return {
        "/health": { body: "" },
        ...metrics(opts.metricsFile ?? "engines/sglang/metrics-docs-llama3.1-8b.prom"),
        ...models(opts.modelsFile),
      };
    case "llamacpp":
      return {
        "/health": { file: "engines/llamacpp/health-200-ok.json", contentType: JSON_TYPE },
        // Without --metrics llama-server answers 501 not_supported_error.
        "/metrics":
          opts.metricsFile === undefined
            ? {
                status: 501,
                file: "engines/llamacpp/error-501-metrics-disabled.json",
                contentType: JSON_TYPE,
              }
            : { file: opts.metricsFile, contentType: PROM },
        "/slots": { file: "engines/llamacpp/slots-2-slots.json", contentType: JSON_TYPE },
        ...models(opts.modelsFile ?? "engines/llamacpp/v1-models.json"),
      };
    case "ollama":
      return {
        "/": { body: "Ollama is running", contentType: "text/plain; charset=utf-8" },
        "/api/version": { file: "engines/ollama/api-version.json", contentType: JSON_TYPE },
        "/api/tags": { file: "engines/ollama/api-tags.json", contentType: JSON_TYPE },
        "/api/ps": { file: "engines/ollama/api-ps.json", contentType: JSON_TYPE },
      };
    case "tgi":
      return {
        "/health": { body: "" },
        "/info": { body: tgiInfoFromSchema(), contentType: JSON_TYPE },
        ...metrics(opts.metricsFile),
      };
    case "openai":
      return { ...models(opts.modelsFile ?? "engines/vllm/v1-models-lora-aibrix.json") };
  }
}

function healthPath(kind: EngineKindName): string {
  if (kind === "ollama") return "/api/version";
  if (kind === "openai") return "/v1/models";
  return "/health";
}

/** What each engine answers on its health path when it cannot serve. */
function unhealthyRoute(kind: EngineKindName): FixtureRoute {
  if (kind === "llamacpp") {
    return { status: 503, file: "engines/llamacpp/health-503-loading.json", contentType: JSON_TYPE };
  }
  if (kind === "tgi") {
    // Body documented in TGI's router/src/server.rs (see engines/tgi/NOTES.md).
    return { status: 503, body: '{"error":"unhealthy","error_type":"healthcheck"}', contentType: JSON_TYPE };
  }
  return { status: 503, body: "" };
}

/**
 * Starts a real HTTP server that answers like an engine of `kind` from the shared fixtures:
 * /metrics, /v1/models, /health and the engine's own endpoints. For integration tests.
 */
export async function startFixtureEngine(opts: FixtureEngineOptions): Promise<FixtureEngine> {
  const routes = { ...defaultRoutes(opts), ...opts.routes };
  const health = healthPath(opts.kind);
  const requests: string[] = [];
  let healthy = true;

  const send = (res: ServerResponse, route: FixtureRoute): void => {
    const body = route.file === undefined ? (route.body ?? "") : readFixture(route.file);
    res.writeHead(route.status ?? 200, { "content-type": route.contentType ?? "text/plain; charset=utf-8" });
    res.end(body);
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    requests.push(path);
    if (path === health && !healthy) return send(res, unhealthyRoute(opts.kind));
    const route = routes[path];
    if (route === undefined)
      return send(res, { status: 404, body: '{"detail":"Not Found"}', contentType: JSON_TYPE });
    send(res, route);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    setHealthy(b) {
      healthy = b;
    },
    requests,
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
