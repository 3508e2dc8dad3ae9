import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createAuth } from "../../../src/auth/index.js";
import { openStore } from "../../../src/store/index.js";
import { useTempDb } from "../store/temp-db.js";

const tempDb = useTempDb();

/** The bytes of the database and its WAL/SHM side files, whichever exist now. */
function dbBytes(path: string): Buffer {
  return Buffer.concat([path, `${path}-wal`, `${path}-shm`].filter(existsSync).map((p) => readFileSync(p)));
}

describe("the database file", () => {
  it("never contains a plain API key, node token or password", async () => {
    const path = tempDb();
    const store = openStore(path);
    const auth = createAuth(store);
    const secrets: string[] = [];
    const passwords = ["admin-password-Zq81", "user password with spaces 7781", "pässwörd-ünïcode"];
    const { user: admin } = await auth.users.ensureAdmin("admin", passwords[0] as string);
    const bob = await auth.users.createUser({ username: "bob", password: passwords[1] as string });
    const carol = await auth.users.createUser({ username: "carol", password: "temporary-pw-3312" });
    await auth.users.setPassword(carol.id, passwords[2] as string);
    passwords.push("temporary-pw-3312");
    for (let i = 0; i < 20; i++) {
      const { key, record } = auth.apiKeys.createApiKey({
        name: `key ${i}`,
        ownerUserId: i % 2 ? admin.id : bob.id,
        scopes: i % 3 ? ["inference"] : ["admin"],
        rpmLimit: 60,
      });
      secrets.push(key);
      expect(auth.apiKeys.verifyApiKey(key)).toBeDefined(); // writes last_used_at
      if (i % 4 === 0) auth.apiKeys.revokeApiKey(record.id);
      const { token, record: nt } = auth.nodeTokens.createNodeToken(`node ${i}`);
      secrets.push(token);
      expect(auth.nodeTokens.verifyNodeToken(token)).toBeDefined();
      if (i % 5 === 0) auth.nodeTokens.revokeNodeToken(nt.id);
    }
    const staticKeys = ["static-api-key-ABCDEFGH12345", "static-admin-key-XYZ98765"];
    const staticTokens = ["static-node-token-QWERTY5678"];
    auth.apiKeys.addStaticApiKeys([staticKeys[0] as string], admin.id);
    auth.apiKeys.addStaticAdminKeys([staticKeys[1] as string], admin.id);
    auth.nodeTokens.addStaticNodeTokens(staticTokens);
    for (const s of [...staticKeys, ...staticTokens]) {
      expect(auth.apiKeys.verifyApiKey(s) ?? auth.nodeTokens.verifyNodeToken(s)).toBeDefined();
    }
    expect((await auth.users.verifyLogin("bob", passwords[1] as string))?.id).toBe(bob.id);

    const needles = [...secrets, ...staticKeys, ...staticTokens, ...passwords];
    // Also the secret part alone (after the display prefix), in case the prefix were stored apart.
    const bodies = secrets.map((s) => s.slice(11));
    const assertClean = (bytes: Buffer): void => {
      expect(bytes.length).toBeGreaterThan(0);
      // Sanity: the grep does see what is stored (names, display prefixes).
      expect(bytes.includes("node 19")).toBe(true);
      expect(bytes.includes((secrets[0] as string).slice(0, 11))).toBe(true);
      const found = [...needles, ...bodies].filter(
        (n) => bytes.includes(Buffer.from(n, "utf8")) || bytes.includes(Buffer.from(n, "utf16le")),
      );
      expect(found).toEqual([]);
    };

    expect(existsSync(`${path}-wal`)).toBe(true); // still open: most data sits in the WAL
    assertClean(dbBytes(path));
    store.close();
    assertClean(dbBytes(path));
  });
});
