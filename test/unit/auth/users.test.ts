import { afterEach, describe, expect, it } from "vitest";
import { createApiKeyStore, createUserStore, type UserStore, userToPublic } from "../../../src/auth/index.js";
import { openStore, type Store, StoreError } from "../../../src/store/index.js";
import { useTempDb } from "../store/temp-db.js";

const tempDb = useTempDb();
const open: Store[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

function setup(): { store: Store; users: UserStore } {
  const store = openStore(tempDb());
  open.push(store);
  return { store, users: createUserStore(store) };
}

describe("users", () => {
  it("creates users with roles and finds them by id and (case-insensitive) username", async () => {
    const { users } = setup();
    const alice = await users.createUser({ username: "alice", password: "pw-a", role: "admin" });
    const bob = await users.createUser({ username: "Bob", password: "pw-b" });
    expect(alice.role).toBe("admin");
    expect(bob.role).toBe("user");
    expect(bob.disabled).toBe(false);
    expect(users.getUser(bob.id)).toEqual(bob);
    expect(users.getUserByUsername("bob")).toEqual(bob);
    expect(users.listUsers().map((u) => u.username)).toEqual(["alice", "Bob"]);
    expect(users.getUser("missing")).toBeUndefined();
  });

  it("stores only an argon2id hash of the password", async () => {
    const { store, users } = setup();
    const u = await users.createUser({ username: "carol", password: "correct horse" });
    const stored = store.db
      .prepare("SELECT password_hash FROM users WHERE id = ?")
      .pluck()
      .get(u.id) as string;
    expect(stored).toMatch(/^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$/);
    expect(stored).not.toContain("correct horse");
    expect(Object.keys(u).sort()).toEqual([
      "createdAt",
      "disabled",
      "id",
      "role",
      "tokenVersion",
      "username",
    ]);
    expect(Object.keys(userToPublic(u)).sort()).toEqual(["created_at", "disabled", "id", "role", "username"]);
  });

  it.each([
    ["a taken username", "dave", "StoreError conflict"],
    ["the same name in other case", "DAVE", "StoreError conflict"],
    ["an empty username", "", "StoreError invalid_argument"],
    ["a username with a newline", "da\nve", "StoreError invalid_argument"],
    ["a 129-character username", "x".repeat(129), "StoreError invalid_argument"],
  ])("refuses %s", async (_what, username, expected) => {
    const { users } = setup();
    await users.createUser({ username: "dave", password: "pw" });
    const err = await users.createUser({ username, password: "pw" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect(`${(err as StoreError).name} ${(err as StoreError).code}`).toBe(expected);
  });

  it("refuses empty passwords and unknown roles", async () => {
    const { users } = setup();
    await expect(users.createUser({ username: "e", password: "" })).rejects.toThrowError(StoreError);
    await expect(
      users.createUser({ username: "e", password: "pw", role: "root" as unknown as "admin" }),
    ).rejects.toThrowError(/role/);
  });

  describe("verifyLogin", () => {
    it("answers a wrong password and an unknown user the same way", async () => {
      const { users } = setup();
      const u = await users.createUser({ username: "frank", password: "s3cret" });
      expect(await users.verifyLogin("frank", "s3cret")).toEqual(u);
      expect(await users.verifyLogin("FRANK", "s3cret")).toEqual(u);
      const cases: [string, string][] = [
        ["frank", "wrong"],
        ["frank", "S3cret"],
        ["frank", ""],
        ["nobody", "s3cret"],
        ["", ""],
        ["frank", "s3cret".padEnd(2000, "x")],
      ];
      for (const [name, pw] of cases) expect(await users.verifyLogin(name, pw)).toBeUndefined();
    });

    it("refuses disabled users and accepts them again once enabled", async () => {
      const { users } = setup();
      const u = await users.createUser({ username: "gina", password: "pw" });
      users.setDisabled(u.id, true);
      expect(await users.verifyLogin("gina", "pw")).toBeUndefined();
      users.setDisabled(u.id, false);
      expect((await users.verifyLogin("gina", "pw"))?.id).toBe(u.id);
    });

    it("follows password changes", async () => {
      const { users } = setup();
      const u = await users.createUser({ username: "hank", password: "old" });
      const changed = await users.setPassword(u.id, "new");
      expect(changed?.tokenVersion).toBe(u.tokenVersion + 1);
      expect(await users.verifyLogin("hank", "old")).toBeUndefined();
      expect((await users.verifyLogin("hank", "new"))?.id).toBe(u.id);
      expect(await users.setPassword("missing", "x")).toBeUndefined();
    });
  });

  describe("the last enabled admin", () => {
    it("cannot be deleted, disabled or demoted; another admin lifts the guard", async () => {
      const { users } = setup();
      const root = await users.createUser({ username: "root", password: "pw", role: "admin" });
      for (const act of [
        () => users.deleteUser(root.id),
        () => users.setDisabled(root.id, true),
        () => users.setRole(root.id, "user"),
      ]) {
        expect(act).toThrowError(expect.objectContaining({ code: "conflict" }));
      }
      const second = await users.createUser({ username: "second", password: "pw", role: "admin" });
      expect(users.setDisabled(second.id, true)?.disabled).toBe(true);
      // A disabled admin does not count: root is still the last enabled one.
      expect(() => users.deleteUser(root.id)).toThrowError(StoreError);
      users.setDisabled(second.id, false);
      expect(users.setRole(root.id, "user")?.role).toBe("user");
      expect(users.deleteUser(root.id)).toBe(true);
      expect(users.deleteUser(root.id)).toBe(false);
      expect(users.setRole("missing", "admin")).toBeUndefined();
      expect(users.setDisabled("missing", true)).toBeUndefined();
    });
  });

  it("deleting a user deletes their API keys", async () => {
    const { store, users } = setup();
    const keys = createApiKeyStore(store);
    const u = await users.createUser({ username: "ivan", password: "pw" });
    const { key, record } = keys.createApiKey({ name: "k", ownerUserId: u.id });
    expect(keys.verifyApiKey(key)?.id).toBe(record.id);
    expect(users.deleteUser(u.id)).toBe(true);
    expect(keys.getApiKey(record.id)).toBeUndefined();
    expect(keys.verifyApiKey(key)).toBeUndefined();
  });

  describe("ensureAdmin", () => {
    it("creates the first admin once and never overwrites it", async () => {
      const { users } = setup();
      const first = await users.ensureAdmin("admin", "test");
      expect(first.created).toBe(true);
      expect(first.user.role).toBe("admin");
      const again = await users.ensureAdmin("admin", "other-password");
      expect(again).toEqual({ created: false, user: first.user });
      const other = await users.ensureAdmin("someone-else", "x");
      expect(other.created).toBe(false);
      expect(users.listUsers()).toHaveLength(1);
      expect((await users.verifyLogin("admin", "test"))?.id).toBe(first.user.id);
      expect(await users.verifyLogin("admin", "other-password")).toBeUndefined();
    });

    it("survives a restart without touching the admin", async () => {
      const path = tempDb();
      const a = openStore(path);
      const created = await createUserStore(a).ensureAdmin("admin", "test");
      a.close();
      const b = openStore(path);
      open.push(b);
      const users = createUserStore(b);
      expect(await users.ensureAdmin("admin", "changed")).toEqual({ created: false, user: created.user });
      expect(await users.verifyLogin("admin", "test")).toBeDefined();
    });

    it("does not promote an existing non-admin user with that name", async () => {
      const { users } = setup();
      const u = await users.createUser({ username: "admin", password: "user-pw" });
      await expect(users.ensureAdmin("admin", "test")).rejects.toThrowError(
        expect.objectContaining({ code: "conflict" }),
      );
      expect(users.getUser(u.id)?.role).toBe("user");
      expect(await users.verifyLogin("admin", "test")).toBeUndefined();
    });

    it("creates exactly one admin when called concurrently", async () => {
      const { users } = setup();
      const results = await Promise.all([1, 2, 3].map((i) => users.ensureAdmin(`admin${i}`, "pw")));
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(users.listUsers().filter((u) => u.role === "admin")).toHaveLength(1);
    });
  });
});
