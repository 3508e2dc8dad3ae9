import { randomUUID } from "node:crypto";
import type { Store } from "../store/db.js";
import { StoreError } from "../store/errors.js";
import {
  displayPrefix,
  generateSecret,
  hashesEqual,
  hashSecret,
  looksGenerated,
  type SecretTag,
  staticDisplayPrefix,
} from "./secrets.js";

/** A value better-sqlite3 can bind. */
export type SqlValue = string | number | bigint | Buffer | null;

/** Columns every credential table has (see migrations.ts). */
export interface CredentialRow {
  readonly id: string;
  readonly prefix: string;
  readonly hash: Buffer;
  readonly name: string;
  readonly created_at: number;
  readonly last_used_at: number | null;
  readonly revoked_at: number | null;
}

/** How one kind of credential (API key, node token) maps onto its table. */
export interface CredentialKind<Row extends CredentialRow, R> {
  /** A fixed table name; it is spliced into SQL, so it never comes from input. */
  readonly table: "api_keys" | "node_tokens";
  readonly tag: SecretTag;
  /** Columns beyond the common ones, in the order `create` receives their values. */
  readonly extraColumns: readonly string[];
  /** Builds the public-safe record (never the hash) from a row. */
  fromRow(row: Row): R;
  /** Extra check on a stored credential at verify time (e.g. its owner is not disabled). */
  usable?(record: R): boolean;
}

/** The generic operations both API keys and node tokens are built from. */
export interface CredentialStore<R> {
  /** Inserts a new credential; the plain text exists only in the return value. */
  create(name: string, extra: readonly SqlValue[]): { plain: string; record: R };
  /** One stored credential by id, revoked or not. */
  get(id: string): R | undefined;
  /** Stored credentials, oldest first, optionally where one extra column equals a value. */
  list(filter?: { readonly column: string; readonly value: SqlValue }): R[];
  /** Revokes a stored credential; returns it (already-revoked ones unchanged) or undefined. */
  revoke(id: string): R | undefined;
  /** The live credential for a plain text (static or stored), or undefined. */
  verify(plain: string): R | undefined;
  /**
   * Registers operator-supplied credentials, kept hashed in memory only. `make` builds the record;
   * for a value already registered it gets the previous record, to merge with.
   */
  addStatic(plains: readonly string[], make: (id: string, prefix: string, previous: R | undefined) => R): R[];
  /** The static credentials, in the order they were added. */
  listStatic(): R[];
  /** Subscribes to revocations of stored credentials; returns the unsubscribe function. */
  onRevoked(listener: (record: R) => void): () => void;
}

/** `last_used_at` is written at most this often per credential: verify runs on every request. */
export const LAST_USED_RESOLUTION_MS = 60_000;
const MAX_NAME_LENGTH = 200;
/** Control characters (C0, DEL, C1): a newline in a name breaks log lines and CLI tables. */
export const CONTROL_CHARS = /\p{Cc}/u;

/** Rejects empty, over-long or control-character names; everything else is stored verbatim. */
export function checkName(name: string, what: string): void {
  if (typeof name !== "string" || name.length === 0 || name.length > MAX_NAME_LENGTH) {
    throw new StoreError("invalid_argument", `${what} must be 1 to ${MAX_NAME_LENGTH} characters`);
  }
  if (CONTROL_CHARS.test(name)) {
    throw new StoreError("invalid_argument", `${what} must not contain control characters`);
  }
}

// Rows changed by last_used_at touches, per connection (API keys and node tokens share one), so
// that the caches can tell their own bookkeeping from real changes.
const touchCounters = new WeakMap<object, { n: number }>();
function touchCounter(db: object): { n: number } {
  let c = touchCounters.get(db);
  if (c === undefined) {
    c = { n: 0 };
    touchCounters.set(db, c);
  }
  return c;
}

/** Builds the table-backed credential operations for one kind. */
export function createCredentialStore<Row extends CredentialRow, R>(
  store: Store,
  kind: CredentialKind<Row, R>,
  now: () => number,
): CredentialStore<R> {
  const { db } = store;
  const t = kind.table;
  const columns = ["id", "prefix", "hash", "name", "created_at", ...kind.extraColumns];
  const insert = db.prepare(
    `INSERT INTO ${t} (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`,
  );
  const byId = db.prepare(`SELECT * FROM ${t} WHERE id = ?`);
  const byPrefix = db.prepare(`SELECT * FROM ${t} WHERE prefix = ?`);
  const all = db.prepare(`SELECT * FROM ${t} ORDER BY created_at, id`);
  const filtered = new Map(
    kind.extraColumns.map((c) => [
      c,
      db.prepare(`SELECT * FROM ${t} WHERE ${c} = ? ORDER BY created_at, id`),
    ]),
  );
  const revokeStmt = db.prepare(`UPDATE ${t} SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`);
  const touch = db.prepare(`UPDATE ${t} SET last_used_at = ? WHERE id = ?`);

  const statics: { readonly id: string; readonly hash: Buffer; record: R }[] = [];
  const listeners = new Set<(record: R) => void>();

  // Cache of verified stored credentials (digest → row), so the per-request path is a hash and a
  // Map lookup instead of a row read. It is dropped whenever the database may have changed in a
  // way that matters: another connection committed (PRAGMA data_version moves) or this connection
  // wrote anything other than our own last_used_at touches (total_changes moves). So a revocation,
  // a disabled owner or a deleted user takes effect on the very next verify, whoever made it.
  const dataVersion = db.prepare("PRAGMA data_version").pluck();
  const totalChanges = db.prepare("SELECT total_changes()").pluck();
  const touches = touchCounter(db);
  const cache = new Map<string, { readonly hash: Buffer; row: Row; record: R }>();
  let generation = "";

  const lookup = (plain: string, hash: Buffer): { hash: Buffer; row: Row; record: R } | undefined => {
    // Look up by the (public) display prefix, then compare the full hash in constant time, so
    // response timing says nothing about how much of a guessed hash matched.
    let match: Row | undefined;
    for (const row of byPrefix.all(displayPrefix(kind.tag, plain)) as Row[]) {
      if (hashesEqual(row.hash, hash)) match = row;
    }
    if (match === undefined || match.revoked_at !== null) return undefined;
    const record = kind.fromRow(match);
    if (kind.usable && !kind.usable(record)) return undefined;
    return { hash, row: match, record };
  };

  const verifyStored = (plain: string, hash: Buffer): R | undefined => {
    if (!looksGenerated(kind.tag, plain)) return undefined;
    const current = `${dataVersion.get()}:${(totalChanges.get() as number) - touches.n}`;
    if (current !== generation) {
      cache.clear();
      generation = current;
    }
    const cacheKey = hash.toString("base64");
    let entry = cache.get(cacheKey);
    if (entry === undefined || !hashesEqual(entry.hash, hash)) {
      // Only hits are cached: misses would let random guesses fill memory.
      entry = lookup(plain, hash);
      if (entry === undefined) return undefined;
      cache.set(cacheKey, entry);
    }
    const at = now();
    const last = entry.row.last_used_at;
    if (last === null || at - last >= LAST_USED_RESOLUTION_MS) {
      touches.n += touch.run(at, entry.row.id).changes;
      entry.row = { ...entry.row, last_used_at: at };
      entry.record = kind.fromRow(entry.row);
    }
    return entry.record;
  };

  return {
    create(name, extra) {
      checkName(name, "name");
      if (extra.length !== kind.extraColumns.length) throw new TypeError("wrong number of column values");
      const secret = generateSecret(kind.tag);
      const id = randomUUID();
      insert.run(id, secret.prefix, secret.hash, name, now(), ...extra);
      return { plain: secret.plain, record: kind.fromRow(byId.get(id) as Row) };
    },
    get(id) {
      const row = byId.get(id) as Row | undefined;
      return row && kind.fromRow(row);
    },
    list(filter) {
      if (filter === undefined) return (all.all() as Row[]).map(kind.fromRow);
      const stmt = filtered.get(filter.column);
      if (stmt === undefined) throw new TypeError(`cannot filter ${t} by ${filter.column}`);
      return (stmt.all(filter.value) as Row[]).map(kind.fromRow);
    },
    revoke(id) {
      const changed = revokeStmt.run(now(), id).changes === 1;
      const row = byId.get(id) as Row | undefined;
      if (row === undefined) return undefined;
      const record = kind.fromRow(row);
      if (changed) {
        for (const listener of listeners) {
          // One failing listener must not hide the revocation from the others; it is already
          // committed, so report and carry on rather than fail the caller.
          try {
            listener(record);
          } catch (err) {
            process.emitWarning(`${t} revocation listener threw: ${String(err)}`);
          }
        }
      }
      return record;
    },
    verify(plain) {
      if (typeof plain !== "string" || plain.length === 0) return undefined;
      const hash = hashSecret(plain);
      let found: R | undefined;
      // Every static entry is compared (no early exit); the list is a handful of config values.
      for (const s of statics) if (hashesEqual(s.hash, hash)) found = s.record;
      return found ?? verifyStored(plain, hash);
    },
    addStatic(plains, make) {
      return plains.map((plain) => {
        if (typeof plain !== "string" || plain.trim() === "") {
          throw new StoreError("invalid_argument", `a static ${kind.tag}- credential is empty`);
        }
        const hash = hashSecret(plain);
        const existing = statics.find((s) => hashesEqual(s.hash, hash));
        if (existing) {
          // Listed twice (e.g. as a plain and as an admin key): let the kind merge the two.
          existing.record = make(existing.id, staticDisplayPrefix(plain), existing.record);
          return existing.record;
        }
        // Ids are positional, never derived from the secret or its hash.
        const id = `static-${kind.tag}-${statics.length + 1}`;
        const record = make(id, staticDisplayPrefix(plain), undefined);
        statics.push({ id, hash, record });
        return record;
      });
    },
    listStatic: () => statics.map((s) => s.record),
    onRevoked(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
  };
}
