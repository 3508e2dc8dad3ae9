export { type OpenStoreOptions, openStore, type Store } from "./db.js";
export { StoreError, type StoreErrorCode } from "./errors.js";
export { MIGRATIONS, type Migration, migrate } from "./migrations.js";
