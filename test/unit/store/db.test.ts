import { existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { MIGRATIONS, openStore, StoreError } from "../../../src/store/index.js";
import { useTempDb } from "./temp-db.js";

const tempDb = useTempDb();

describe("openStore", () => {
  it("turns on WAL, foreign keys and a busy timeout", () => {
    const store = openStore(tempDb());
    try {
      expect(store.db.pragma("journal_mode", { simple: true })).toBe("wal");
      expect(store.db.pragma("foreign_keys", { simple: true })).toBe(1);
      expect(store.db.pragma("busy_timeout", { simple: true })).toBe(5000);
    } finally {
      store.close();
    }
  });

  it("creates the tables and records each migration once, however often it is opened", () => {
    const path = tempDb();
    const newest = MIGRATIONS.at(-1)?.version;
    for (let i = 0; i < 3; i++) {
      const store = openStore(path);
      expect(store.schemaVersion).toBe(newest);
      const rows = store.db.prepare("SELECT version FROM schema_migrations ORDER BY version").pluck().all();
      expect(rows).toEqual(MIGRATIONS.map((m) => m.version));
      const tables = store.db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .pluck()
        .all();
      expect(tables).toEqual(["api_keys", "node_tokens", "schema_migrations", "settings", "users"]);
      store.close();
    }
  });

  it("keeps data across reopen", () => {
    const path = tempDb();
    const a = openStore(path);
    a.setSetting("k", "v1");
    a.close();
    const b = openStore(path);
    expect(b.getSetting("k")).toBe("v1");
    b.close();
  });

  it("applies all pending migrations in one transaction: a failing step leaves nothing behind", () => {
    const path = tempDb();
    const bad = [
      { version: 1, name: "good", sql: "CREATE TABLE t1 (x INTEGER) STRICT" },
      { version: 2, name: "bad", sql: "CREATE TABLE t2 (x INTEGER) STRICT; THIS IS NOT SQL" },
    ];
    expect(() => openStore(path, { migrations: bad })).toThrow();
    const raw = new Database(path);
    try {
      expect(raw.prepare("SELECT count(*) FROM schema_migrations").pluck().get()).toBe(0);
      expect(raw.prepare("SELECT name FROM sqlite_master WHERE name = 't1'").get()).toBeUndefined();
    } finally {
      raw.close();
    }
  });

  it("applies only the new steps when the code adds a migration", () => {
    const path = tempDb();
    openStore(path).close();
    const more = [
      ...MIGRATIONS,
      { version: 99, name: "extra", sql: "CREATE TABLE extra (x INTEGER) STRICT" },
    ];
    const store = openStore(path, { migrations: more });
    expect(store.schemaVersion).toBe(99);
    expect(store.db.prepare("SELECT count(*) FROM schema_migrations").pluck().get()).toBe(
      MIGRATIONS.length + 1,
    );
    store.close();
  });

  it("refuses a database written by a newer version", () => {
    const path = tempDb();
    const store = openStore(path);
    store.db
      .prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)")
      .run();
    store.close();
    expect(() => openStore(path)).toThrowError(StoreError);
    expect(() => openStore(path)).toThrowError(/newer/);
  });

  it("refuses migrations out of order", () => {
    const swapped = [
      { version: 2, name: "b", sql: "" },
      { version: 1, name: "a", sql: "" },
    ];
    expect(() => openStore(tempDb(), { migrations: swapped })).toThrowError(/ascending/);
  });

  it("creates missing parent directories and a file only its owner can read", () => {
    const path = join(dirname(tempDb()), "nested", "deeper", "llmlb.db");
    const store = openStore(path);
    store.close();
    expect(existsSync(path)).toBe(true);
    if (process.platform !== "win32") expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it("works in memory for tests", () => {
    const store = openStore(":memory:");
    expect(store.getSetting("nope")).toBeUndefined();
    store.close();
    expect(() => openStore("")).toThrowError(StoreError);
  });

  it("stores settings; setSettingIfAbsent keeps the first value", () => {
    const store = openStore(tempDb());
    expect(store.setSettingIfAbsent("s", "first")).toBe("first");
    expect(store.setSettingIfAbsent("s", "second")).toBe("first");
    store.setSetting("s", "third");
    expect(store.getSetting("s")).toBe("third");
    store.close();
    store.close(); // closing twice is harmless
  });

  it("enforces foreign keys", () => {
    const store = openStore(tempDb());
    const insert = store.db.prepare(
      "INSERT INTO api_keys (id, prefix, hash, name, owner_user_id, scopes, created_at) VALUES ('k', 'p', x'00', 'n', 'nobody', 'inference', 0)",
    );
    expect(() => insert.run()).toThrow(/FOREIGN KEY/);
    store.close();
  });
});
