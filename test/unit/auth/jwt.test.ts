import { createHmac } from "node:crypto";
import { SignJWT } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import {
  createJwtIssuer,
  createUserStore,
  DEFAULT_JWT_TTL_SECONDS,
  type JwtIssuer,
  type UserRecord,
  type UserStore,
} from "../../../src/auth/index.js";
import { JWT_SECRET_SETTING } from "../../../src/auth/jwt.js";
import { openStore, type Store, StoreError } from "../../../src/store/index.js";
import { manualClock, useTempDb } from "../store/temp-db.js";

const tempDb = useTempDb();
const open: Store[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

const SECRET = "0123456789abcdef0123456789abcdef-configured";
const clock = manualClock();

async function setup(
  secret: string | undefined = SECRET,
): Promise<{ store: Store; users: UserStore; jwt: JwtIssuer; admin: UserRecord }> {
  const store = openStore(tempDb());
  open.push(store);
  const users = createUserStore(store);
  const admin = await users.createUser({ username: "admin", password: "test", role: "admin" });
  return { store, users, jwt: createJwtIssuer(store, users, { secret, now: clock.now }), admin };
}

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString("base64url");

describe("JWT", () => {
  it("issues a 12 h HS256 token that verifies to the user", async () => {
    const { jwt, admin } = await setup();
    const { token, expiresAt } = await jwt.issueToken(admin);
    expect(expiresAt).toBe(Math.floor(clock.now() / 1000) * 1000 + DEFAULT_JWT_TTL_SECONDS * 1000);
    const header = JSON.parse(Buffer.from(token.split(".")[0] ?? "", "base64url").toString());
    expect(header).toEqual({ alg: "HS256", typ: "JWT" });
    expect(await jwt.verifyToken(token)).toEqual({ userId: admin.id, username: "admin", role: "admin" });
  });

  it("expires", async () => {
    const { store, users, admin } = await setup();
    const jwt = createJwtIssuer(store, users, { secret: SECRET, ttlSeconds: 60, now: clock.now });
    const { token } = await jwt.issueToken(admin);
    clock.advance(59_000);
    expect(await jwt.verifyToken(token)).toBeDefined();
    clock.advance(2_000);
    expect(await jwt.verifyToken(token)).toBeUndefined();
  });

  it("rejects tokens signed with another secret, tampered with, or malformed", async () => {
    const { store, users, jwt, admin } = await setup();
    const other = createJwtIssuer(store, users, { secret: `${SECRET}-other`, now: clock.now });
    expect(await jwt.verifyToken((await other.issueToken(admin)).token)).toBeUndefined();

    const bob = await users.createUser({ username: "bob", password: "pw" });
    const [h, p, s] = (await jwt.issueToken(bob)).token.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, "base64url").toString());
    const promoted = `${h}.${b64({ ...claims, role: "admin", sub: admin.id })}.${s}`;
    expect(await jwt.verifyToken(promoted)).toBeUndefined();
    for (const junk of ["", "abc", "a.b.c", `${h}.${p}`, `${h}.${p}.`, `${h}.${p}.${s}x`]) {
      expect(await jwt.verifyToken(junk)).toBeUndefined();
    }
  });

  it('rejects alg "none" and algorithms other than HS256, even with the right secret', async () => {
    const { jwt, admin } = await setup();
    const iat = Math.floor(clock.now() / 1000);
    const claims = {
      sub: admin.id,
      username: "admin",
      role: "admin",
      ver: 0,
      iss: "llmlb",
      aud: "llmlb-admin",
      iat,
      exp: iat + 3600,
    };
    const none = `${b64({ alg: "none", typ: "JWT" })}.${b64(claims)}.`;
    expect(await jwt.verifyToken(none)).toBeUndefined();
    const key = new TextEncoder().encode(SECRET);
    const hs512 = await new SignJWT(claims).setProtectedHeader({ alg: "HS512" }).sign(key);
    expect(await jwt.verifyToken(hs512)).toBeUndefined();
    // Control: the same claims signed HS256 by hand do verify, so the rejections above are about alg.
    const signingInput = `${b64({ alg: "HS256", typ: "JWT" })}.${b64(claims)}`;
    const mac = createHmac("sha256", key).update(signingInput).digest("base64url");
    expect(await jwt.verifyToken(`${signingInput}.${mac}`)).toBeDefined();
  });

  it("stops verifying when the user is disabled, deleted or changes password; follows role changes", async () => {
    const { users, jwt, admin } = await setup();
    const u = await users.createUser({ username: "eve", password: "pw", role: "admin" });
    const t1 = (await jwt.issueToken(u)).token;
    users.setRole(u.id, "user");
    expect((await jwt.verifyToken(t1))?.role).toBe("user");
    users.setDisabled(u.id, true);
    expect(await jwt.verifyToken(t1)).toBeUndefined();
    users.setDisabled(u.id, false);
    // Re-enabling does not revive sessions from before the disable.
    expect(await jwt.verifyToken(t1)).toBeUndefined();
    const t2 = (await jwt.issueToken(users.getUser(u.id) as UserRecord)).token;
    expect(await jwt.verifyToken(t2)).toBeDefined();
    await users.setPassword(u.id, "new");
    expect(await jwt.verifyToken(t2)).toBeUndefined();
    const t3 = (await jwt.issueToken(users.getUser(u.id) as UserRecord)).token;
    users.deleteUser(u.id);
    expect(await jwt.verifyToken(t3)).toBeUndefined();
    await expect(jwt.issueToken({ ...admin, disabled: true })).rejects.toThrowError(StoreError);
  });

  it("generates a secret once, stores it, and keeps sessions valid across a restart", async () => {
    const path = tempDb();
    const a = openStore(path);
    const usersA = createUserStore(a);
    const admin = await usersA.createUser({ username: "admin", password: "test", role: "admin" });
    const { token } = await createJwtIssuer(a, usersA, { now: clock.now }).issueToken(admin);
    const stored = a.getSetting(JWT_SECRET_SETTING);
    expect(Buffer.from(stored ?? "", "base64url")).toHaveLength(32);
    a.close();
    const b = openStore(path);
    open.push(b);
    const jwtB = createJwtIssuer(b, createUserStore(b), { secret: "", now: clock.now });
    expect(b.getSetting(JWT_SECRET_SETTING)).toBe(stored);
    expect((await jwtB.verifyToken(token))?.userId).toBe(admin.id);
  });

  it("does not store a configured secret and refuses a short one", async () => {
    const { store, users } = await setup();
    expect(store.getSetting(JWT_SECRET_SETTING)).toBeUndefined();
    expect(() => createJwtIssuer(store, users, { secret: "too-short" })).toThrowError(/at least 32 bytes/);
    expect(() => createJwtIssuer(store, users, { secret: SECRET, ttlSeconds: 0 })).toThrowError(StoreError);
  });
});
