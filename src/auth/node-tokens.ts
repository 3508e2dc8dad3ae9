import type { Store } from "../store/db.js";
import { type CredentialRow, createCredentialStore } from "./credentials.js";

/** A node token as the server sees it: no hash, no plain text. */
export interface NodeTokenRecord {
  readonly id: string;
  readonly name: string;
  /** `nt-` plus the first 8 characters. */
  readonly prefix: string;
  /** Epoch ms. */
  readonly createdAt: number;
  /** Epoch ms, refreshed at most once a minute. */
  readonly lastUsedAt?: number;
  /** Epoch ms. */
  readonly revokedAt?: number;
  /** `static`: from LLMLB_NODE_TOKENS, in memory only, cannot be revoked. */
  readonly source: "stored" | "static";
}

/** The JSON shape an admin route returns for a node token (snake_case, ISO times, never a hash). */
export interface NodeTokenPublic {
  readonly id: string;
  readonly name: string;
  readonly prefix: string;
  readonly created_at: string;
  readonly last_used_at: string | null;
  readonly revoked_at: string | null;
  readonly static: boolean;
}

/** Node tokens, which authenticate agents' streams: stored (SHA-256 only) and static (memory). */
export interface NodeTokenStore {
  /** Creates a token; `token` is the only copy of the plain text, to be shown once. */
  createNodeToken(name: string): { token: string; record: NodeTokenRecord };
  /** One token (stored or static) by id. */
  getNodeToken(id: string): NodeTokenRecord | undefined;
  /** Static tokens first, then stored tokens oldest first, revoked included. */
  listNodeTokens(): NodeTokenRecord[];
  /** Revokes a stored token and tells the listeners; undefined if unknown or static. */
  revokeNodeToken(id: string): NodeTokenRecord | undefined;
  /** The live token for a presented plain text, or undefined. */
  verifyNodeToken(plain: string): NodeTokenRecord | undefined;
  /** Accepts config tokens (LLMLB_NODE_TOKENS), hashed in memory only. */
  addStaticNodeTokens(tokens: readonly string[]): NodeTokenRecord[];
  /** Called once per revocation, synchronously, so the server can close that node's stream. */
  onNodeTokenRevoked(listener: (record: NodeTokenRecord) => void): () => void;
}

/** The admin-API view of a node token. */
export function nodeTokenToPublic(r: NodeTokenRecord): NodeTokenPublic {
  return {
    id: r.id,
    name: r.name,
    prefix: r.prefix,
    created_at: new Date(r.createdAt).toISOString(),
    last_used_at: r.lastUsedAt === undefined ? null : new Date(r.lastUsedAt).toISOString(),
    revoked_at: r.revokedAt === undefined ? null : new Date(r.revokedAt).toISOString(),
    static: r.source === "static",
  };
}

function fromRow(row: CredentialRow): NodeTokenRecord {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    createdAt: row.created_at,
    ...(row.last_used_at !== null && { lastUsedAt: row.last_used_at }),
    ...(row.revoked_at !== null && { revokedAt: row.revoked_at }),
    source: "stored",
  };
}

/** Options of {@link createNodeTokenStore}. */
export interface NodeTokenStoreOptions {
  /** Clock in epoch ms (tests). */
  readonly now?: () => number;
}

/** Node token operations over an open store. */
export function createNodeTokenStore(store: Store, options: NodeTokenStoreOptions = {}): NodeTokenStore {
  const now = options.now ?? Date.now;
  const creds = createCredentialStore<CredentialRow, NodeTokenRecord>(
    store,
    { table: "node_tokens", tag: "nt", extraColumns: [], fromRow },
    now,
  );
  return {
    createNodeToken(name) {
      const { plain, record } = creds.create(name, []);
      return { token: plain, record };
    },
    getNodeToken: (id) => creds.listStatic().find((r) => r.id === id) ?? creds.get(id),
    listNodeTokens: () => [...creds.listStatic(), ...creds.list()],
    revokeNodeToken: (id) => creds.revoke(id),
    verifyNodeToken: (plain) => creds.verify(plain),
    addStaticNodeTokens: (tokens) =>
      creds.addStatic(
        tokens,
        (id, prefix, previous) =>
          previous ?? {
            id,
            name: `static token ${id.slice("static-nt-".length)}`,
            prefix,
            createdAt: now(),
            source: "static",
          },
      ),
    onNodeTokenRevoked: (listener) => creds.onRevoked(listener),
  };
}
