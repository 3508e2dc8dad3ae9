import type Database from "better-sqlite3";
import { StoreError } from "./errors.js";

/** One numbered schema step; applied once, in order, never edited after release. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/**
 * The schema, as numbered steps. Times are epoch milliseconds. Secrets are stored only as
 * SHA-256 (keys, tokens) or argon2id (passwords); `prefix` is the part shown to operators.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "users, api keys, node tokens, settings",
    sql: `
      CREATE TABLE users (
        id            TEXT PRIMARY KEY,
        -- NOCASE: "Admin" and "admin" are one account, as operators expect.
        username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
        role          TEXT NOT NULL CHECK (role IN ('admin', 'user')),
        password_hash TEXT NOT NULL,
        created_at    INTEGER NOT NULL,
        disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
        -- Bumped on password change so that JWTs issued before it stop working.
        token_version INTEGER NOT NULL DEFAULT 0
      ) STRICT;

      CREATE TABLE api_keys (
        id            TEXT PRIMARY KEY,
        prefix        TEXT NOT NULL,
        hash          BLOB NOT NULL UNIQUE,
        name          TEXT NOT NULL,
        owner_user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        scopes        TEXT NOT NULL,
        rpm_limit     INTEGER,
        tpm_limit     INTEGER,
        created_at    INTEGER NOT NULL,
        last_used_at  INTEGER,
        revoked_at    INTEGER
      ) STRICT;
      CREATE INDEX api_keys_prefix ON api_keys (prefix);
      CREATE INDEX api_keys_owner ON api_keys (owner_user_id);

      CREATE TABLE node_tokens (
        id           TEXT PRIMARY KEY,
        prefix       TEXT NOT NULL,
        hash         BLOB NOT NULL UNIQUE,
        name         TEXT NOT NULL,
        created_at   INTEGER NOT NULL,
        last_used_at INTEGER,
        revoked_at   INTEGER
      ) STRICT;
      CREATE INDEX node_tokens_prefix ON node_tokens (prefix);

      CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) STRICT;
    `,
  },
];

/**
 * Brings the schema up to the newest migration, all pending steps in one IMMEDIATE transaction
 * (so two processes opening the same new file cannot both apply step 1). Returns the version.
 */
export function migrate(
  db: Database.Database,
  migrations: readonly Migration[] = MIGRATIONS,
  now: () => number = Date.now,
): number {
  for (let i = 1; i < migrations.length; i++) {
    if ((migrations[i]?.version ?? 0) <= (migrations[i - 1]?.version ?? 0)) {
      throw new StoreError("schema", "migrations must be numbered in ascending order");
    }
  }
  const newest = migrations.at(-1)?.version ?? 0;
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at INTEGER NOT NULL
  ) STRICT`);
  const current = db.prepare("SELECT coalesce(max(version), 0) AS v FROM schema_migrations").pluck();
  const record = db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)");
  const apply = db.transaction(() => {
    const applied = current.get() as number;
    if (applied > newest) {
      // Refuse rather than run on a schema we do not understand (a downgrade).
      throw new StoreError(
        "schema",
        `database schema version ${applied} is newer than this llmlb supports (${newest})`,
      );
    }
    for (const m of migrations) {
      if (m.version <= applied) continue;
      db.exec(m.sql);
      record.run(m.version, m.name, now());
    }
    return current.get() as number;
  });
  return apply.immediate();
}
