/** Why a store operation was refused; the HTTP layer maps each code to one status. */
export type StoreErrorCode =
  /** A unique name is taken, or the change would leave no enabled admin (HTTP 409). */
  | "conflict"
  /** A value is out of range or malformed (HTTP 400). */
  | "invalid_argument"
  /** The database was written by a newer llmlb, or its schema is unusable (startup failure). */
  | "schema";

/** The one error class of src/store and src/auth; messages never contain secrets. */
export class StoreError extends Error {
  override readonly name = "StoreError";
  constructor(
    readonly code: StoreErrorCode,
    message: string,
  ) {
    super(message);
  }
}
