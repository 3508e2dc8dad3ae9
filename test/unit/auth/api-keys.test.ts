import { createHash } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import {
  type ApiKeyScope,
  type ApiKeyStore,
  apiKeyToPublic,
  createApiKeyStore,
  createUserStore,
  hasScope,
  LAST_USED_RESOLUTION_MS,
  type UserRecord,
  type UserStore,
} from "../../../src/auth/index.js";
import { openStore, type Store, StoreError } from "../../../src/store/index.js";
import { manualClock, useTempDb } from "../store/temp-db.js";

const tempDb = useTempDb();
const open: Store[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

async function setup(now?: () => number): Promise<{
  store: Store;
  users: UserStore;
  keys: ApiKeyStore;
  owner: UserRecord;
}> {
  const store = openStore(tempDb());
  open.push(store);
  const users = createUserStore(store);
  const owner = await users.createUser({ username: "owner", password: "pw", role: "admin" });
  return { store, users, keys: createApiKeyStore(store, now ? { now } : {}), owner };
}

describe("API keys", () => {
  it("creates sk- keys with 256 bits of base62 and a display prefix", async () => {
    const { keys, owner } = await setup();
    const { key, record } = keys.createApiKey({ name: "ci", ownerUserId: owner.id });
    expect(key).toMatch(/^sk-[0-9A-Za-z]{43}$/);
    expect(record.prefix).toBe(key.slice(0, 11));
    expect(record).toMatchObject({
      name: "ci",
      ownerUserId: owner.id,
      scopes: ["inference"],
      source: "stored",
    });
    expect(record.rpmLimit).toBeUndefined();
    expect(record.lastUsedAt).toBeUndefined();
    expect(keys.createApiKey({ name: "ci", ownerUserId: owner.id }).key).not.toBe(key);
  });

  it("keeps the hash and the plain text out of records and public views", async () => {
    const { keys, owner } = await setup();
    const { key, record } = keys.createApiKey({
      name: "n",
      ownerUserId: owner.id,
      rpmLimit: 10,
      tpmLimit: 1000,
    });
    const pub = apiKeyToPublic(record);
    expect(Object.keys(pub).sort()).toEqual(
      [
        "created_at",
        "id",
        "last_used_at",
        "name",
        "owner_user_id",
        "prefix",
        "revoked_at",
        "rpm_limit",
        "scopes",
        "static",
        "tpm_limit",
      ].sort(),
    );
    expect(pub).toMatchObject({ rpm_limit: 10, tpm_limit: 1000, last_used_at: null, static: false });
    const digest = createHash("sha256").update(key).digest();
    for (const text of [JSON.stringify(record), JSON.stringify(pub), JSON.stringify(keys.listApiKeys())]) {
      expect(text).not.toContain(key);
      expect(text).not.toContain(key.slice(11));
      expect(text).not.toContain(digest.toString("hex"));
      expect(text).not.toContain(digest.toString("base64"));
    }
  });

  it("verifies, then stops on the very next call after revocation", async () => {
    const { keys, owner } = await setup();
    const { key, record } = keys.createApiKey({ name: "k", ownerUserId: owner.id });
    expect(keys.verifyApiKey(key)?.id).toBe(record.id);
    const revoked = keys.revokeApiKey(record.id);
    expect(revoked?.revokedAt).toBeTypeOf("number");
    expect(keys.verifyApiKey(key)).toBeUndefined();
    // Revoking again changes nothing; unknown ids are undefined.
    expect(keys.revokeApiKey(record.id)?.revokedAt).toBe(revoked?.revokedAt);
    expect(keys.revokeApiKey("no-such-id")).toBeUndefined();
    expect(keys.listApiKeys().map((k) => k.id)).toEqual([record.id]);
  });

  it("sees a revocation made through another connection at once (no stale cache)", async () => {
    const { store, keys, owner } = await setup();
    const { key, record } = keys.createApiKey({ name: "k", ownerUserId: owner.id });
    const other = openStore(store.path);
    open.push(other);
    expect(keys.verifyApiKey(key)).toBeDefined();
    createApiKeyStore(other).revokeApiKey(record.id);
    expect(keys.verifyApiKey(key)).toBeUndefined();
  });

  it("does not serve a cached key after any write to the table, even by raw SQL", async () => {
    const { store, keys, owner } = await setup();
    const { key, record } = keys.createApiKey({ name: "k", ownerUserId: owner.id });
    for (let i = 0; i < 3; i++) expect(keys.verifyApiKey(key)?.id).toBe(record.id);
    store.db.prepare("UPDATE api_keys SET revoked_at = 1 WHERE id = ?").run(record.id);
    expect(keys.verifyApiKey(key)).toBeUndefined();
    store.db.prepare("UPDATE api_keys SET revoked_at = NULL, scopes = 'admin' WHERE id = ?").run(record.id);
    expect(keys.verifyApiKey(key)?.scopes).toEqual(["admin"]);
  });

  it.each([
    ["an empty string", ""],
    ["a near miss (last character changed)", "CHANGE_LAST"],
    ["the right prefix with another body", "SAME_PREFIX"],
    ["the key with a trailing space", "TRAILING"],
    ["a node token shape", "nt-0123456789012345678901234567890123456789012"],
    ["no prefix at all", "0123456789012345678901234567890123456789012"],
  ])("rejects %s", async (_what, variant) => {
    const { keys, owner } = await setup();
    const { key } = keys.createApiKey({ name: "k", ownerUserId: owner.id });
    const forged =
      variant === "CHANGE_LAST"
        ? key.slice(0, -1) + (key.endsWith("A") ? "B" : "A")
        : variant === "SAME_PREFIX"
          ? key.slice(0, 11) + "x".repeat(key.length - 11)
          : variant === "TRAILING"
            ? `${key} `
            : variant;
    expect(keys.verifyApiKey(forged)).toBeUndefined();
  });

  describe("scopes", () => {
    const table: [readonly ApiKeyScope[] | undefined, readonly ApiKeyScope[], boolean, boolean][] = [
      [undefined, ["inference"], true, false],
      [["inference"], ["inference"], true, false],
      [["admin"], ["admin"], true, true],
      [["admin", "inference", "admin"], ["inference", "admin"], true, true],
    ];
    it.each(table)("scopes %j are stored as %j (inference %s, admin %s)", async (given, stored, inf, adm) => {
      const { keys, owner } = await setup();
      const { key } = keys.createApiKey({
        name: "s",
        ownerUserId: owner.id,
        ...(given && { scopes: given }),
      });
      const rec = keys.verifyApiKey(key);
      expect(rec?.scopes).toEqual(stored);
      expect(rec && hasScope(rec, "inference")).toBe(inf);
      expect(rec && hasScope(rec, "admin")).toBe(adm);
    });

    it("refuses no scopes and unknown scopes", async () => {
      const { keys, owner } = await setup();
      expect(() => keys.createApiKey({ name: "s", ownerUserId: owner.id, scopes: [] })).toThrowError(
        StoreError,
      );
      expect(() =>
        keys.createApiKey({ name: "s", ownerUserId: owner.id, scopes: ["root" as ApiKeyScope] }),
      ).toThrowError(/unknown scope/);
    });
  });

  it.each([[{ rpmLimit: 0 }], [{ rpmLimit: -1 }], [{ tpmLimit: 1.5 }], [{ tpmLimit: Number.NaN }]])(
    "refuses limits %j",
    async (limits) => {
      const { keys, owner } = await setup();
      expect(() => keys.createApiKey({ name: "l", ownerUserId: owner.id, ...limits })).toThrowError(
        StoreError,
      );
    },
  );

  it("refuses an unknown owner and stops keys of a disabled owner", async () => {
    const { users, keys, owner } = await setup();
    expect(() => keys.createApiKey({ name: "x", ownerUserId: "ghost" })).toThrowError(/owner/);
    const bob = await users.createUser({ username: "bob", password: "pw" });
    const { key } = keys.createApiKey({ name: "bob's", ownerUserId: bob.id });
    expect(keys.verifyApiKey(key)).toBeDefined(); // now cached
    users.setDisabled(bob.id, true);
    expect(keys.verifyApiKey(key)).toBeUndefined();
    users.setDisabled(bob.id, false);
    expect(keys.verifyApiKey(key)?.ownerUserId).toBe(bob.id);
    expect(keys.listApiKeys(bob.id)).toHaveLength(1);
    expect(keys.listApiKeys(owner.id)).toHaveLength(0);
  });

  it("writes last_used_at at most once a minute", async () => {
    const clock = manualClock();
    const { store, keys, owner } = await setup(clock.now);
    const { key, record } = keys.createApiKey({ name: "k", ownerUserId: owner.id });
    const changes = () => store.db.prepare("SELECT total_changes()").pluck().get() as number;
    const t0 = clock.now();
    expect(keys.verifyApiKey(key)?.lastUsedAt).toBe(t0);
    const before = changes();
    clock.advance(LAST_USED_RESOLUTION_MS - 1);
    for (let i = 0; i < 50; i++) expect(keys.verifyApiKey(key)?.lastUsedAt).toBe(t0);
    expect(changes()).toBe(before);
    clock.advance(1);
    expect(keys.verifyApiKey(key)?.lastUsedAt).toBe(t0 + LAST_USED_RESOLUTION_MS);
    expect(keys.getApiKey(record.id)?.lastUsedAt).toBe(t0 + LAST_USED_RESOLUTION_MS);
  });

  describe("static keys", () => {
    it("accepts config keys with scope inference only, in memory, not revocable", async () => {
      const { store, keys, owner } = await setup();
      const [rec] = keys.addStaticApiKeys(["sk-your-api-key", "demo"], owner.id);
      expect(rec).toMatchObject({
        id: "static-sk-1",
        scopes: ["inference"],
        source: "static",
        ownerUserId: owner.id,
      });
      expect(rec?.prefix).toBe("sk-");
      expect(keys.verifyApiKey("sk-your-api-key")?.id).toBe("static-sk-1");
      expect(keys.verifyApiKey("demo")?.id).toBe("static-sk-2");
      expect(keys.verifyApiKey("demo ")).toBeUndefined();
      expect(keys.revokeApiKey("static-sk-1")).toBeUndefined();
      expect(keys.verifyApiKey("sk-your-api-key")).toBeDefined();
      expect(keys.getApiKey("static-sk-2")?.source).toBe("static");
      expect(store.db.prepare("SELECT count(*) FROM api_keys").pluck().get()).toBe(0);
      expect(apiKeyToPublic(keys.listApiKeys()[0] as never).static).toBe(true);
    });

    it("gives admin scope only to keys added as admin keys; a key in both lists gets both", async () => {
      const { keys, owner } = await setup();
      keys.addStaticApiKeys(["plain-key", "both-key"], owner.id);
      keys.addStaticAdminKeys(["admin-key", "both-key"], owner.id);
      expect(keys.verifyApiKey("plain-key")?.scopes).toEqual(["inference"]);
      expect(keys.verifyApiKey("admin-key")?.scopes).toEqual(["inference", "admin"]);
      expect(keys.verifyApiKey("both-key")?.scopes).toEqual(["inference", "admin"]);
      expect(keys.listApiKeys().map((k) => k.id)).toEqual(["static-sk-1", "static-sk-2", "static-sk-3"]);
    });

    it("refuses blank entries", async () => {
      const { keys, owner } = await setup();
      expect(() => keys.addStaticApiKeys(["ok", " "], owner.id)).toThrowError(StoreError);
    });

    it("lists static keys before stored ones and filters by owner", async () => {
      const { users, keys, owner } = await setup();
      const other = await users.createUser({ username: "o", password: "pw" });
      keys.addStaticApiKeys(["s1"], owner.id);
      const { record } = keys.createApiKey({ name: "stored", ownerUserId: owner.id });
      keys.createApiKey({ name: "theirs", ownerUserId: other.id });
      expect(keys.listApiKeys(owner.id).map((k) => k.id)).toEqual(["static-sk-1", record.id]);
      expect(keys.listApiKeys()).toHaveLength(3);
    });
  });

  it("tells revocation listeners about stored keys", async () => {
    const { keys, owner } = await setup();
    const seen: string[] = [];
    const off = keys.onApiKeyRevoked((r) => seen.push(r.id));
    const a = keys.createApiKey({ name: "a", ownerUserId: owner.id }).record;
    const b = keys.createApiKey({ name: "b", ownerUserId: owner.id }).record;
    keys.revokeApiKey(a.id);
    keys.revokeApiKey(a.id);
    off();
    keys.revokeApiKey(b.id);
    expect(seen).toEqual([a.id]);
  });
});
