import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join, relative, sep } from "node:path";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { LbError } from "../errors.js";
import { PACKAGE_ROOT } from "../util/paths.js";

/** A file of the dashboard, held in memory. */
interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".json": "application/json; charset=utf-8",
  ".png": "image/png",
};

// Everything the page needs comes from this origin; no inline script or style, no framing.
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** The folder the assets are read from (beside this file, so it works from a checkout or a package). */
export const ASSETS_DIR = join(PACKAGE_ROOT, "src", "dashboard", "assets");

/** Reads every asset once (a few tens of KiB): only files found here can ever be served. */
export function loadAssets(dir: string = ASSETS_DIR): Map<string, Asset> {
  const out = new Map<string, Asset>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else {
        const type = TYPES[extname(name)];
        if (!type) continue;
        const body = readFileSync(full);
        const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`;
        out.set(relative(dir, full).split(sep).join("/"), { body, type, etag });
      }
    }
  };
  walk(dir);
  return out;
}

function send(req: FastifyRequest, reply: FastifyReply, asset: Asset) {
  // No build step means no content hashes in file names: browsers revalidate every load
  // (a 304 costs one round trip) instead of running a stale module beside a fresh one.
  reply
    .header("cache-control", "no-cache")
    .header("etag", asset.etag)
    .header("x-content-type-options", "nosniff")
    .header("referrer-policy", "no-referrer");
  if (req.headers["if-none-match"] === asset.etag) return reply.code(304).send();
  return reply.type(asset.type).send(asset.body);
}

/** `GET /` (the page) and `GET /assets/*` (its modules, styles, icons); no auth: they hold no data. */
export function registerStaticAssets(app: FastifyInstance, assets: Map<string, Asset>): void {
  const index = assets.get("index.html");
  if (!index) throw new Error(`dashboard assets missing: no index.html in ${ASSETS_DIR}`);
  app.get("/", async (req, reply) => {
    reply.header("content-security-policy", CSP).header("x-frame-options", "DENY");
    return send(req, reply, index);
  });
  app.get<{ Params: { "*": string } }>("/assets/*", async (req, reply) => {
    const asset = assets.get(req.params["*"]);
    if (!asset || req.params["*"] === "index.html") {
      throw new LbError("not_found", "No such dashboard asset.");
    }
    return send(req, reply, asset);
  });
}
