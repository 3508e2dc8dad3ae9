import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "pino";
import { toLbError } from "../errors.js";

/**
 * The one place an RPC handler's failure becomes a wire error: LbErrors map through the error
 * table; ConnectErrors (the framework's own) pass; anything else is logged with its stack and
 * answered as INTERNAL with a bland message, so no stack ever reaches a client.
 */
export function toRpcError(err: unknown, logger: Logger, method: string): ConnectError {
  if (err instanceof ConnectError) return err;
  const lb = toLbError(err);
  if (lb.code === "internal") logger.error({ err, method }, "dispatch handler failed");
  return lb.toConnect();
}

/** Whether an abort reason means the call's deadline passed (rather than the client cancelling). */
export function isDeadline(reason: unknown): boolean {
  return reason instanceof ConnectError && reason.code === Code.DeadlineExceeded;
}
