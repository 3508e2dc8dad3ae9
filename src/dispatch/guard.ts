import type { DescService } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { Logger } from "pino";
import { toRpcError } from "./rpc-errors.js";

type AnyHandler = (input: unknown, ctx: HandlerContext) => unknown;

/**
 * Wraps every method of a service implementation so whatever it throws reaches the client as the
 * right gRPC code with a human message (see toRpcError), for unary and streaming methods alike.
 */
export function guardService<S extends DescService>(
  service: S,
  impl: ServiceImpl<S>,
  logger: Logger,
): ServiceImpl<S> {
  const out: Record<string, AnyHandler> = {};
  for (const method of service.methods) {
    const fn = (impl as unknown as Record<string, AnyHandler>)[method.localName];
    if (!fn) continue;
    const name = `${service.typeName}/${method.name}`;
    if (method.methodKind === "unary" || method.methodKind === "client_streaming") {
      out[method.localName] = async (input, ctx) => {
        try {
          return await fn(input, ctx);
        } catch (err) {
          throw toRpcError(err, logger, name);
        }
      };
    } else {
      out[method.localName] = async function* (input, ctx) {
        try {
          yield* fn(input, ctx) as AsyncIterable<unknown>;
        } catch (err) {
          throw toRpcError(err, logger, name);
        }
      };
    }
  }
  return out as unknown as ServiceImpl<S>;
}
