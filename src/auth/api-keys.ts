import type { Store } from "../store/db.js";
import { StoreError } from "../store/errors.js";
import { type CredentialRow, createCredentialStore } from "./credentials.js";

/** What a key may do: `inference` (the /v1 API, Dispatch) or `admin` (everything). */
export type ApiKeyScope = "inference" | "admin";
/** All scopes, in display order. */
export const API_KEY_SCOPES: readonly ApiKeyScope[] = ["inference", "admin"];

/** An API key as the server sees it: no hash, no plain text. */
export interface ApiKeyRecord {
  readonly id: string;
  readonly name: string;
  /** `sk-` plus the first 8 characters, to tell keys apart in lists. */
  readonly prefix: string;
  readonly ownerUserId: string;
  readonly scopes: readonly ApiKeyScope[];
  /** Requests per minute; absent means unlimited. */
  readonly rpmLimit?: number;
  /** Tokens (prompt + completion) per minute; absent means unlimited. */
  readonly tpmLimit?: number;
  /** Epoch ms. */
  readonly createdAt: number;
  /** Epoch ms, refreshed at most once a minute. */
  readonly lastUsedAt?: number;
  /** Epoch ms. */
  readonly revokedAt?: number;
  /** `static`: from LLMLB_API_KEYS, in memory only, cannot be revoked. */
  readonly source: "stored" | "static";
}

/** The JSON shape an admin route returns for a key (snake_case, ISO times, never a hash). */
export interface ApiKeyPublic {
  readonly id: string;
  readonly name: string;
  readonly prefix: string;
  readonly owner_user_id: string;
  readonly scopes: readonly ApiKeyScope[];
  readonly rpm_limit: number | null;
  readonly tpm_limit: number | null;
  readonly created_at: string;
  readonly last_used_at: string | null;
  readonly revoked_at: string | null;
  readonly static: boolean;
}

/** What {@link ApiKeyStore.createApiKey} needs; scopes default to `["inference"]`. */
export interface CreateApiKeyInput {
  readonly name: string;
  readonly ownerUserId: string;
  readonly scopes?: readonly ApiKeyScope[];
  readonly rpmLimit?: number | undefined;
  readonly tpmLimit?: number | undefined;
}

/** API keys: stored ones (SQLite, SHA-256 only) and static ones (config, memory only). */
export interface ApiKeyStore {
  /** Creates a key; `key` is the only copy of the plain text, to be shown once. */
  createApiKey(input: CreateApiKeyInput): { key: string; record: ApiKeyRecord };
  /** One key (stored or static) by id. */
  getApiKey(id: string): ApiKeyRecord | undefined;
  /** Static keys first, then stored keys oldest first (revoked included), optionally of one owner. */
  listApiKeys(ownerUserId?: string): ApiKeyRecord[];
  /** Revokes a stored key (effective on the very next verify); undefined if unknown or static. */
  revokeApiKey(id: string): ApiKeyRecord | undefined;
  /** The live key for a presented plain text; undefined if unknown, revoked, or owner disabled. */
  verifyApiKey(plain: string): ApiKeyRecord | undefined;
  /** Accepts config keys with scope `inference`, hashed in memory only. */
  addStaticApiKeys(keys: readonly string[], ownerUserId: string): ApiKeyRecord[];
  /** Accepts config keys with scopes `inference` + `admin`, hashed in memory only. */
  addStaticAdminKeys(keys: readonly string[], ownerUserId: string): ApiKeyRecord[];
  /** Subscribes to revocations of stored keys; returns the unsubscribe function. */
  onApiKeyRevoked(listener: (record: ApiKeyRecord) => void): () => void;
}

interface ApiKeyRow extends CredentialRow {
  readonly owner_user_id: string;
  readonly scopes: string;
  readonly rpm_limit: number | null;
  readonly tpm_limit: number | null;
}

/** Whether a key may act in `scope`; `admin` implies every scope. */
export function hasScope(record: Pick<ApiKeyRecord, "scopes">, scope: ApiKeyScope): boolean {
  return record.scopes.includes("admin") || record.scopes.includes(scope);
}

/** The admin-API view of a key. */
export function apiKeyToPublic(r: ApiKeyRecord): ApiKeyPublic {
  return {
    id: r.id,
    name: r.name,
    prefix: r.prefix,
    owner_user_id: r.ownerUserId,
    scopes: r.scopes,
    rpm_limit: r.rpmLimit ?? null,
    tpm_limit: r.tpmLimit ?? null,
    created_at: new Date(r.createdAt).toISOString(),
    last_used_at: r.lastUsedAt === undefined ? null : new Date(r.lastUsedAt).toISOString(),
    revoked_at: r.revokedAt === undefined ? null : new Date(r.revokedAt).toISOString(),
    static: r.source === "static",
  };
}

function checkScopes(scopes: readonly ApiKeyScope[]): ApiKeyScope[] {
  if (!Array.isArray(scopes) || scopes.length === 0) {
    throw new StoreError("invalid_argument", "an API key needs at least one scope");
  }
  for (const s of scopes) {
    if (!API_KEY_SCOPES.includes(s)) throw new StoreError("invalid_argument", `unknown scope: ${String(s)}`);
  }
  return API_KEY_SCOPES.filter((s) => scopes.includes(s));
}

function checkLimit(value: number | undefined, what: string): number | null {
  if (value === undefined) return null;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new StoreError("invalid_argument", `${what} must be a positive integer`);
  }
  return value;
}

function fromRow(row: ApiKeyRow): ApiKeyRecord {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    ownerUserId: row.owner_user_id,
    // Unknown words (from a newer version) are dropped rather than trusted.
    scopes: API_KEY_SCOPES.filter((s) => row.scopes.split(",").includes(s)),
    ...(row.rpm_limit !== null && { rpmLimit: row.rpm_limit }),
    ...(row.tpm_limit !== null && { tpmLimit: row.tpm_limit }),
    createdAt: row.created_at,
    ...(row.last_used_at !== null && { lastUsedAt: row.last_used_at }),
    ...(row.revoked_at !== null && { revokedAt: row.revoked_at }),
    source: "stored",
  };
}

/** Options of {@link createApiKeyStore}. */
export interface ApiKeyStoreOptions {
  /** Clock in epoch ms (tests). */
  readonly now?: () => number;
}

/** API key operations over an open store. */
export function createApiKeyStore(store: Store, options: ApiKeyStoreOptions = {}): ApiKeyStore {
  const now = options.now ?? Date.now;
  const ownerState = store.db.prepare("SELECT disabled FROM users WHERE id = ?").pluck();
  const ownerActive = (userId: string): boolean => ownerState.get(userId) === 0;
  const creds = createCredentialStore<ApiKeyRow, ApiKeyRecord>(
    store,
    {
      table: "api_keys",
      tag: "sk",
      extraColumns: ["owner_user_id", "scopes", "rpm_limit", "tpm_limit"],
      fromRow,
      // A disabled user's keys stop working with the user; enabling the user revives them.
      usable: (r) => ownerActive(r.ownerUserId),
    },
    now,
  );

  const addStatic = (keys: readonly string[], ownerUserId: string, scopes: readonly ApiKeyScope[]) =>
    creds.addStatic(keys, (id, prefix, previous) => ({
      id,
      name: `static key ${id.slice("static-sk-".length)}`,
      prefix,
      ownerUserId: previous?.ownerUserId ?? ownerUserId,
      // A key listed both as a plain and as an admin key gets the union of the scopes.
      scopes: API_KEY_SCOPES.filter((s) => scopes.includes(s) || previous?.scopes.includes(s)),
      createdAt: previous?.createdAt ?? now(),
      source: "static",
    }));

  return {
    createApiKey(input) {
      const scopes = checkScopes(input.scopes ?? ["inference"]);
      const rpm = checkLimit(input.rpmLimit, "rpmLimit");
      const tpm = checkLimit(input.tpmLimit, "tpmLimit");
      if (ownerState.get(input.ownerUserId) === undefined) {
        throw new StoreError("invalid_argument", "the key's owner is not a known user");
      }
      const { plain, record } = creds.create(input.name, [input.ownerUserId, scopes.join(","), rpm, tpm]);
      return { key: plain, record };
    },
    getApiKey: (id) => creds.listStatic().find((r) => r.id === id) ?? creds.get(id),
    listApiKeys(ownerUserId) {
      const statics = creds.listStatic();
      if (ownerUserId === undefined) return [...statics, ...creds.list()];
      return [
        ...statics.filter((r) => r.ownerUserId === ownerUserId),
        ...creds.list({ column: "owner_user_id", value: ownerUserId }),
      ];
    },
    revokeApiKey: (id) => creds.revoke(id),
    verifyApiKey: (plain) => creds.verify(plain),
    addStaticApiKeys: (keys, ownerUserId) => addStatic(keys, ownerUserId, ["inference"]),
    addStaticAdminKeys: (keys, ownerUserId) => addStatic(keys, ownerUserId, ["inference", "admin"]),
    onApiKeyRevoked: (listener) => creds.onRevoked(listener),
  };
}
