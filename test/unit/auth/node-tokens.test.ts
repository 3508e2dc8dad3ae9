import { afterEach, describe, expect, it, vi } from "vitest";
import {
  createApiKeyStore,
  createNodeTokenStore,
  createUserStore,
  type NodeTokenRecord,
  type NodeTokenStore,
  nodeTokenToPublic,
} from "../../../src/auth/index.js";
import { openStore, type Store } from "../../../src/store/index.js";
import { useTempDb } from "../store/temp-db.js";

const tempDb = useTempDb();
const open: Store[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
  vi.restoreAllMocks();
});

function setup(): { store: Store; tokens: NodeTokenStore } {
  const store = openStore(tempDb());
  open.push(store);
  return { store, tokens: createNodeTokenStore(store) };
}

describe("node tokens", () => {
  it("creates, lists, verifies and revokes nt- tokens", () => {
    const { tokens } = setup();
    const { token, record } = tokens.createNodeToken("gpu-box-1");
    expect(token).toMatch(/^nt-[0-9A-Za-z]{43}$/);
    expect(record).toMatchObject({ name: "gpu-box-1", prefix: token.slice(0, 11), source: "stored" });
    expect(tokens.verifyNodeToken(token)?.id).toBe(record.id);
    expect(tokens.listNodeTokens().map((t) => t.id)).toEqual([record.id]);
    expect(tokens.revokeNodeToken(record.id)?.revokedAt).toBeTypeOf("number");
    expect(tokens.verifyNodeToken(token)).toBeUndefined();
    expect(tokens.getNodeToken(record.id)?.revokedAt).toBeTypeOf("number");
    const pub = nodeTokenToPublic(tokens.listNodeTokens()[0] as NodeTokenRecord);
    expect(Object.keys(pub).sort()).toEqual(
      ["created_at", "id", "last_used_at", "name", "prefix", "revoked_at", "static"].sort(),
    );
    expect(JSON.stringify(pub)).not.toContain(token.slice(11));
  });

  it("fires the revoke event once per revocation, synchronously, until unsubscribed", () => {
    const { tokens } = setup();
    const events: NodeTokenRecord[] = [];
    const off = tokens.onNodeTokenRevoked((r) => events.push(r));
    const a = tokens.createNodeToken("a").record;
    const b = tokens.createNodeToken("b").record;
    tokens.revokeNodeToken(a.id);
    expect(events.map((e) => e.id)).toEqual([a.id]);
    expect(events[0]?.revokedAt).toBeTypeOf("number");
    tokens.revokeNodeToken(a.id); // already revoked: no second event
    tokens.revokeNodeToken("unknown");
    expect(events).toHaveLength(1);
    off();
    tokens.revokeNodeToken(b.id);
    expect(events).toHaveLength(1);
  });

  it("keeps revoking and notifying when one listener throws", () => {
    const { tokens } = setup();
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    const seen: string[] = [];
    tokens.onNodeTokenRevoked(() => {
      throw new Error("listener bug");
    });
    tokens.onNodeTokenRevoked((r) => seen.push(r.id));
    const { token, record } = tokens.createNodeToken("c");
    expect(tokens.revokeNodeToken(record.id)?.id).toBe(record.id);
    expect(seen).toEqual([record.id]);
    expect(warn).toHaveBeenCalledOnce();
    expect(tokens.verifyNodeToken(token)).toBeUndefined();
  });

  it("accepts static tokens from config, in memory only", () => {
    const { store, tokens } = setup();
    tokens.addStaticNodeTokens(["static-node-token-1", "static-node-token-1", "another"]);
    expect(tokens.verifyNodeToken("static-node-token-1")?.id).toBe("static-nt-1");
    expect(tokens.verifyNodeToken("another")?.source).toBe("static");
    expect(tokens.verifyNodeToken("static-node-token-2")).toBeUndefined();
    expect(tokens.revokeNodeToken("static-nt-1")).toBeUndefined();
    expect(tokens.listNodeTokens().map((t) => t.id)).toEqual(["static-nt-1", "static-nt-2"]);
    expect(store.db.prepare("SELECT count(*) FROM node_tokens").pluck().get()).toBe(0);
  });

  it("keeps API keys and node tokens apart", async () => {
    const { store, tokens } = setup();
    const owner = await createUserStore(store).createUser({ username: "o", password: "pw" });
    const keys = createApiKeyStore(store);
    const { key } = keys.createApiKey({ name: "k", ownerUserId: owner.id });
    const { token } = tokens.createNodeToken("n");
    expect(tokens.verifyNodeToken(key)).toBeUndefined();
    expect(keys.verifyApiKey(token)).toBeUndefined();
    // Same body, other tag: still no match.
    expect(tokens.verifyNodeToken(`nt-${key.slice(3)}`)).toBeUndefined();
  });

  it("refuses empty and control-character names", () => {
    const { tokens } = setup();
    expect(() => tokens.createNodeToken("")).toThrowError(/1 to 200/);
    expect(() => tokens.createNodeToken("a\u0000b")).toThrowError(/control/);
    expect(() => tokens.createNodeToken("x".repeat(201))).toThrowError(/1 to 200/);
  });
});
