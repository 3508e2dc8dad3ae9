import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { createAuth } from "../../../src/auth/index.js";
import { openStore, type Store } from "../../../src/store/index.js";
import { useTempDb } from "../store/temp-db.js";

const tempDb = useTempDb();
const open: Store[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

describe("concurrent creation and revocation", () => {
  it("leaves a consistent table (one process, Promise.all)", async () => {
    const store = openStore(tempDb());
    open.push(store);
    const auth = createAuth(store);
    const admin = (await auth.users.ensureAdmin("admin", "test")).user;
    const users = await Promise.all(
      Array.from({ length: 8 }, (_, i) => auth.users.createUser({ username: `u${i}`, password: `pw${i}` })),
    );
    const created = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        await Promise.resolve();
        const owner = users[i % users.length] ?? admin;
        return auth.apiKeys.createApiKey({ name: `k${i}`, ownerUserId: owner.id });
      }),
    );
    const tokens = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => auth.nodeTokens.createNodeToken(`n${i}`)),
    );
    const revokedIds = new Set(created.filter((_, i) => i % 3 === 0).map((c) => c.record.id));
    const revokeResults = await Promise.all(
      [...revokedIds, ...revokedIds].map(async (id) => auth.apiKeys.revokeApiKey(id)?.revokedAt),
    );
    expect(revokeResults.every((t) => typeof t === "number")).toBe(true);

    const rows = auth.apiKeys.listApiKeys();
    expect(rows).toHaveLength(200);
    expect(new Set(rows.map((r) => r.id)).size).toBe(200);
    expect(new Set(rows.map((r) => r.prefix)).size).toBe(200);
    expect(new Set(created.map((c) => c.key)).size).toBe(200);
    expect(rows.filter((r) => r.revokedAt !== undefined)).toHaveLength(revokedIds.size);
    for (const { key, record } of created) {
      expect(auth.apiKeys.verifyApiKey(key)?.id).toBe(revokedIds.has(record.id) ? undefined : record.id);
    }
    for (const u of users) expect(auth.apiKeys.listApiKeys(u.id)).toHaveLength(25);
    expect(new Set(tokens.map((t) => t.token)).size).toBe(50);
    expect(auth.nodeTokens.listNodeTokens()).toHaveLength(50);
  });

  it("leaves a consistent table when several processes write the same file", async () => {
    const path = tempDb();
    const setupStore = openStore(path);
    const admin = (await createAuth(setupStore).users.ensureAdmin("admin", "test")).user;
    setupStore.close();

    const script = join(dirname(path), "writer.ts");
    const authUrl = pathToFileURL(join(repoRoot, "src", "auth", "index.ts")).href;
    const storeUrl = pathToFileURL(join(repoRoot, "src", "store", "index.ts")).href;
    writeFileSync(
      script,
      `import { createAuth } from ${JSON.stringify(authUrl)};
import { openStore } from ${JSON.stringify(storeUrl)};
const [path, owner, tag] = process.argv.slice(2);
const store = openStore(path);
const auth = createAuth(store);
const out = [];
for (let i = 0; i < 25; i++) {
  const { key, record } = auth.apiKeys.createApiKey({ name: tag + "-" + i, ownerUserId: owner });
  const revoked = i % 2 === 1;
  if (revoked) auth.apiKeys.revokeApiKey(record.id);
  auth.nodeTokens.createNodeToken(tag + "-node-" + i);
  out.push({ key, id: record.id, revoked });
}
store.close();
process.stdout.write(JSON.stringify(out));
`,
    );
    const run = promisify(execFile);
    const outputs = await Promise.all(
      ["a", "b", "c"].map((tag) =>
        run(process.execPath, ["--import", "tsx", script, path, admin.id, tag], { cwd: repoRoot }),
      ),
    );
    const written = outputs.flatMap(
      (o) => JSON.parse(o.stdout) as { key: string; id: string; revoked: boolean }[],
    );
    expect(written).toHaveLength(75);

    const store = openStore(path);
    open.push(store);
    const auth = createAuth(store);
    const rows = auth.apiKeys.listApiKeys();
    expect(rows).toHaveLength(75);
    expect(rows.filter((r) => r.revokedAt !== undefined)).toHaveLength(36); // i = 1, 3, … 23 in each
    expect(auth.nodeTokens.listNodeTokens()).toHaveLength(75);
    for (const w of written) expect(auth.apiKeys.verifyApiKey(w.key)?.id).toBe(w.revoked ? undefined : w.id);
    expect(store.db.pragma("integrity_check", { simple: true })).toBe("ok");
  });
});
