import { chmodSync, existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { StoreError } from "./errors.js";
import { MIGRATIONS, type Migration, migrate } from "./migrations.js";

/** An open llmlb database: one SQLite file holding users, hashed keys, node tokens and settings. */
export interface Store {
  /** The better-sqlite3 handle; src/auth prepares its statements on it. */
  readonly db: Database.Database;
  /** The file path, or ":memory:". */
  readonly path: string;
  /** The schema version after migrations ran. */
  readonly schemaVersion: number;
  /** Reads one setting; undefined when unset. */
  getSetting(key: string): string | undefined;
  /** Writes one setting, replacing any previous value. */
  setSetting(key: string, value: string): void;
  /** Writes a setting only if unset and returns the value that is stored (first writer wins). */
  setSettingIfAbsent(key: string, value: string): string;
  /** Closes the file; SQLite checkpoints the WAL into the main file on the last close. */
  close(): void;
}

/** Options of {@link openStore}; the defaults suit production. */
export interface OpenStoreOptions {
  /** Milliseconds a writer waits for another process's lock before SQLITE_BUSY (default 5000). */
  readonly busyTimeoutMs?: number;
  /** Schema steps (tests only). */
  readonly migrations?: readonly Migration[];
}

/** Opens (creating if needed) the database at `path` (":memory:" for tests) and migrates it. */
export function openStore(path: string, options: OpenStoreOptions = {}): Store {
  if (path === "") throw new StoreError("invalid_argument", "database path is empty");
  const inMemory = path === ":memory:";
  const isNew = !inMemory && !existsSync(path);
  if (isNew) mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  try {
    // The file holds password and key hashes: keep it private to the service user. SQLite gives
    // the -wal and -shm files the main file's mode.
    if (isNew) chmodSync(path, 0o600);
    const mode = db.pragma("journal_mode = WAL", { simple: true });
    if (!inMemory && mode !== "wal") {
      throw new StoreError("schema", `could not enable WAL on ${path} (journal_mode is ${String(mode)})`);
    }
    db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000))}`);
    db.pragma("foreign_keys = ON");
    // synchronous stays FULL (the default): writes are rare here, and a revocation must survive a
    // power cut.
    const schemaVersion = migrate(db, options.migrations ?? MIGRATIONS);
    const getStmt = db.prepare("SELECT value FROM settings WHERE key = ?").pluck();
    const setStmt = db.prepare(
      "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    );
    const setIfAbsentStmt = db.prepare(
      "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
    );
    return {
      db,
      path,
      schemaVersion,
      getSetting: (key) => getStmt.get(key) as string | undefined,
      setSetting: (key, value) => {
        setStmt.run(key, value);
      },
      setSettingIfAbsent: (key, value) => {
        setIfAbsentStmt.run(key, value);
        return getStmt.get(key) as string;
      },
      close: () => {
        if (db.open) db.close();
      },
    };
  } catch (err) {
    db.close();
    throw err;
  }
}
