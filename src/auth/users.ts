import { randomUUID } from "node:crypto";
import { hash, verify } from "@node-rs/argon2";
import type { Store } from "../store/db.js";
import { StoreError } from "../store/errors.js";
import { CONTROL_CHARS } from "./credentials.js";
import { randomBase62 } from "./secrets.js";

/** `admin` may use the admin API; `user` may only own API keys. */
export type UserRole = "admin" | "user";

/** A user as the server sees it: never the password hash. */
export interface UserRecord {
  readonly id: string;
  readonly username: string;
  readonly role: UserRole;
  /** Epoch ms. */
  readonly createdAt: number;
  readonly disabled: boolean;
  /** Bumped on password change and on disable: JWTs carrying an older value are void. */
  readonly tokenVersion: number;
}

/** The JSON shape an admin route returns for a user. */
export interface UserPublic {
  readonly id: string;
  readonly username: string;
  readonly role: UserRole;
  readonly created_at: string;
  readonly disabled: boolean;
}

/** What {@link UserStore.createUser} needs; the role defaults to `user`. */
export interface CreateUserInput {
  readonly username: string;
  readonly password: string;
  readonly role?: UserRole;
}

/** Users and their argon2id passwords. */
export interface UserStore {
  /** Creates a user; a taken username (case-insensitive) is a `conflict`. */
  createUser(input: CreateUserInput): Promise<UserRecord>;
  /** One user by id. */
  getUser(id: string): UserRecord | undefined;
  /** One user by username, case-insensitive. */
  getUserByUsername(username: string): UserRecord | undefined;
  /** All users, oldest first. */
  listUsers(): UserRecord[];
  /** Replaces the password and voids the user's JWTs; undefined if no such user. */
  setPassword(id: string, password: string): Promise<UserRecord | undefined>;
  /** Changes the role; demoting the last enabled admin is a `conflict`. */
  setRole(id: string, role: UserRole): UserRecord | undefined;
  /** Disables (voiding JWTs and API keys) or re-enables; disabling the last enabled admin is a `conflict`. */
  setDisabled(id: string, disabled: boolean): UserRecord | undefined;
  /** Deletes the user and their API keys; false if no such user; the last enabled admin is a `conflict`. */
  deleteUser(id: string): boolean;
  /** The enabled user with this username and password, else undefined (no reason, similar timing). */
  verifyLogin(username: string, password: string): Promise<UserRecord | undefined>;
  /** First start: creates this admin unless any admin exists; never overwrites anyone. */
  ensureAdmin(username: string, password: string): Promise<{ created: boolean; user: UserRecord }>;
}

interface UserRow {
  readonly id: string;
  readonly username: string;
  readonly role: UserRole;
  readonly password_hash: string;
  readonly created_at: number;
  readonly disabled: number;
  readonly token_version: number;
}

const MAX_USERNAME_LENGTH = 128;
// Long enough for any passphrase; the cap stops a megabyte "password" from costing CPU.
const MAX_PASSWORD_LENGTH = 1024;

/** The admin-API view of a user. */
export function userToPublic(u: UserRecord): UserPublic {
  return {
    id: u.id,
    username: u.username,
    role: u.role,
    created_at: new Date(u.createdAt).toISOString(),
    disabled: u.disabled,
  };
}

function fromRow(row: UserRow): UserRecord {
  return {
    id: row.id,
    username: row.username,
    role: row.role,
    createdAt: row.created_at,
    disabled: row.disabled === 1,
    tokenVersion: row.token_version,
  };
}

function checkUsername(username: string): void {
  if (typeof username !== "string" || username.length === 0 || username.length > MAX_USERNAME_LENGTH) {
    throw new StoreError("invalid_argument", `username must be 1 to ${MAX_USERNAME_LENGTH} characters`);
  }
  if (CONTROL_CHARS.test(username)) {
    throw new StoreError("invalid_argument", "username must not contain control characters");
  }
}

function checkPassword(password: string): void {
  if (typeof password !== "string" || password.length === 0 || password.length > MAX_PASSWORD_LENGTH) {
    throw new StoreError("invalid_argument", `password must be 1 to ${MAX_PASSWORD_LENGTH} characters`);
  }
}

function checkRole(role: UserRole): void {
  if (role !== "admin" && role !== "user") {
    throw new StoreError("invalid_argument", `unknown role: ${String(role)}`);
  }
}

/**
 * argon2id with the library defaults (m = 19 MiB, t = 2, p = 1: the OWASP baseline), each hash with
 * its own random salt, as a PHC string that records its parameters.
 */
function hashPassword(password: string): Promise<string> {
  return hash(password);
}

async function passwordMatches(stored: string, password: string): Promise<boolean> {
  try {
    return await verify(stored, password);
  } catch {
    // A malformed stored hash is a failed login, not a server error.
    return false;
  }
}

/** Options of {@link createUserStore}. */
export interface UserStoreOptions {
  /** Clock in epoch ms (tests). */
  readonly now?: () => number;
}

/** User operations over an open store. */
export function createUserStore(store: Store, options: UserStoreOptions = {}): UserStore {
  const now = options.now ?? Date.now;
  const { db } = store;
  const byId = db.prepare("SELECT * FROM users WHERE id = ?");
  const byUsername = db.prepare("SELECT * FROM users WHERE username = ?");
  const all = db.prepare("SELECT * FROM users ORDER BY created_at, id");
  const insert = db.prepare(
    "INSERT INTO users (id, username, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?)",
  );
  const updatePassword = db.prepare(
    "UPDATE users SET password_hash = ?, token_version = token_version + 1 WHERE id = ?",
  );
  const updateRole = db.prepare("UPDATE users SET role = ? WHERE id = ?");
  // Disabling bumps token_version so that re-enabling does not revive old sessions.
  const updateDisabled = db.prepare(
    "UPDATE users SET disabled = ?, token_version = token_version + ? WHERE id = ?",
  );
  const remove = db.prepare("DELETE FROM users WHERE id = ?");
  const otherEnabledAdmins = db
    .prepare("SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0 AND id <> ?")
    .pluck();
  const firstAdmin = db.prepare("SELECT * FROM users WHERE role = 'admin' ORDER BY created_at, id LIMIT 1");

  // verifyLogin checks unknown usernames against this hash, made with the same parameters as the
  // real ones, so that "no such user" costs as long as "wrong password".
  const dummyHash = hashPassword(randomBase62(24));

  const get = (id: string): UserRecord | undefined => {
    const row = byId.get(id) as UserRow | undefined;
    return row && fromRow(row);
  };

  /** Refuses a change that would leave no enabled admin (nobody could administer the server). */
  const guardLastAdmin = (row: UserRow, what: string): void => {
    if (row.role === "admin" && row.disabled === 0 && otherEnabledAdmins.get(row.id) === 0) {
      throw new StoreError("conflict", `cannot ${what} the last enabled admin`);
    }
  };

  const insertUser = (username: string, passwordHash: string, role: UserRole): UserRecord => {
    const id = randomUUID();
    try {
      insert.run(id, username, role, passwordHash, now());
    } catch (err) {
      if ((err as { code?: unknown }).code === "SQLITE_CONSTRAINT_UNIQUE") {
        throw new StoreError("conflict", "username is taken");
      }
      throw err;
    }
    return get(id) as UserRecord;
  };

  return {
    async createUser(input) {
      checkUsername(input.username);
      checkPassword(input.password);
      const role = input.role ?? "user";
      checkRole(role);
      return insertUser(input.username, await hashPassword(input.password), role);
    },
    getUser: get,
    getUserByUsername(username) {
      const row = byUsername.get(username) as UserRow | undefined;
      return row && fromRow(row);
    },
    listUsers: () => (all.all() as UserRow[]).map(fromRow),
    async setPassword(id, password) {
      checkPassword(password);
      const passwordHash = await hashPassword(password);
      return updatePassword.run(passwordHash, id).changes === 1 ? get(id) : undefined;
    },
    setRole(id, role) {
      checkRole(role);
      return db
        .transaction(() => {
          const row = byId.get(id) as UserRow | undefined;
          if (row === undefined) return undefined;
          if (role !== "admin") guardLastAdmin(row, "demote");
          updateRole.run(role, id);
          return get(id);
        })
        .immediate();
    },
    setDisabled(id, disabled) {
      return db
        .transaction(() => {
          const row = byId.get(id) as UserRow | undefined;
          if (row === undefined) return undefined;
          if (disabled) guardLastAdmin(row, "disable");
          if ((row.disabled === 1) !== disabled) updateDisabled.run(disabled ? 1 : 0, disabled ? 1 : 0, id);
          return get(id);
        })
        .immediate();
    },
    deleteUser(id) {
      return db
        .transaction(() => {
          const row = byId.get(id) as UserRow | undefined;
          if (row === undefined) return false;
          guardLastAdmin(row, "delete");
          // ON DELETE CASCADE removes the user's API keys in the same transaction.
          return remove.run(id).changes === 1;
        })
        .immediate();
    },
    async verifyLogin(username, password) {
      const row =
        typeof username === "string" && username.length <= MAX_USERNAME_LENGTH
          ? (byUsername.get(username) as UserRow | undefined)
          : undefined;
      const candidate =
        typeof password === "string" && password.length <= MAX_PASSWORD_LENGTH ? password : "";
      // Always run exactly one argon2 verify, whatever is wrong, and decide only afterwards.
      const ok = await passwordMatches(row?.password_hash ?? (await dummyHash), candidate);
      if (row === undefined || !ok || candidate !== password || row.disabled === 1) return undefined;
      return fromRow(row);
    },
    async ensureAdmin(username, password) {
      const existing = firstAdmin.get() as UserRow | undefined;
      if (existing) return { created: false, user: fromRow(existing) };
      checkUsername(username);
      checkPassword(password);
      const passwordHash = await hashPassword(password);
      // Re-check inside a write transaction: another process may have created an admin meanwhile.
      return db
        .transaction(() => {
          const raced = firstAdmin.get() as UserRow | undefined;
          if (raced) return { created: false, user: fromRow(raced) };
          if (byUsername.get(username) !== undefined) {
            throw new StoreError(
              "conflict",
              `no admin exists and username ${JSON.stringify(username)} is a user`,
            );
          }
          return { created: true, user: insertUser(username, passwordHash, "admin") };
        })
        .immediate();
    },
  };
}
