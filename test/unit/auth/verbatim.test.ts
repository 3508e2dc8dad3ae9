import { afterEach, describe, expect, it } from "vitest";
import { createAuth } from "../../../src/auth/index.js";
import { openStore, type Store } from "../../../src/store/index.js";
import { useTempDb } from "../store/temp-db.js";

const tempDb = useTempDb();
const open: Store[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

/** Strings that would break string-built SQL or file paths; all must round-trip unchanged. */
const NASTY = [
  "'; DROP TABLE users; --",
  "Robert'); DROP TABLE api_keys;--",
  '" OR "1"="1',
  "' OR 1=1 --",
  "../../../etc/passwd",
  "..\\..\\windows\\system32",
  "/dev/null",
  "%00%2e%2e%2f",
  "$(rm -rf /)",
  "名前 🔑 ñ",
  "NULL",
  "*",
];

describe("SQL-looking and path-like strings", () => {
  it("are stored and returned verbatim as usernames, key names and token names", async () => {
    const store = openStore(tempDb());
    open.push(store);
    const auth = createAuth(store);
    const admin = (await auth.users.ensureAdmin("admin", "test")).user;
    for (const [i, s] of NASTY.entries()) {
      const u = await auth.users.createUser({ username: `${s}#${i}`, password: s });
      expect(auth.users.getUser(u.id)?.username).toBe(`${s}#${i}`);
      expect((await auth.users.verifyLogin(`${s}#${i}`, s))?.id).toBe(u.id);
      const { key, record } = auth.apiKeys.createApiKey({ name: s, ownerUserId: admin.id });
      expect(record.name).toBe(s);
      expect(auth.apiKeys.verifyApiKey(key)?.name).toBe(s);
      const { record: nt } = auth.nodeTokens.createNodeToken(s);
      expect(auth.nodeTokens.getNodeToken(nt.id)?.name).toBe(s);
    }
    expect(auth.apiKeys.listApiKeys().map((k) => k.name)).toEqual(NASTY);
    expect(auth.nodeTokens.listNodeTokens().map((t) => t.name)).toEqual(NASTY);
    expect(auth.users.listUsers()).toHaveLength(NASTY.length + 1);
  });

  it("as ids find nothing and change nothing", async () => {
    const store = openStore(tempDb());
    open.push(store);
    const auth = createAuth(store);
    const admin = (await auth.users.ensureAdmin("admin", "test")).user;
    const { key } = auth.apiKeys.createApiKey({ name: "k", ownerUserId: admin.id });
    const { token } = auth.nodeTokens.createNodeToken("n");
    for (const s of NASTY) {
      expect(auth.users.getUser(s)).toBeUndefined();
      expect(auth.users.getUserByUsername(s)).toBeUndefined();
      expect(auth.users.deleteUser(s)).toBe(false);
      expect(auth.users.setDisabled(s, true)).toBeUndefined();
      expect(auth.apiKeys.getApiKey(s)).toBeUndefined();
      expect(auth.apiKeys.revokeApiKey(s)).toBeUndefined();
      expect(auth.apiKeys.listApiKeys(s)).toEqual([]);
      expect(auth.apiKeys.verifyApiKey(s)).toBeUndefined();
      expect(auth.nodeTokens.revokeNodeToken(s)).toBeUndefined();
      expect(auth.nodeTokens.verifyNodeToken(s)).toBeUndefined();
      expect(await auth.users.verifyLogin(s, s)).toBeUndefined();
    }
    expect(auth.apiKeys.verifyApiKey(key)).toBeDefined();
    expect(auth.nodeTokens.verifyNodeToken(token)).toBeDefined();
    expect(auth.users.listUsers()).toHaveLength(1);
  });
});
