import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import type { HeaderReader } from "../dispatch/rpc-auth.js";
import { type ControlMessage, type NodeMessage, NodeService } from "../gen/llmlb/v1/node_pb.js";
import { bearerToken } from "../http/auth-header.js";
import { NodeSession, type SessionDeps } from "./node-session.js";

/** Checks a node token; returns the token's id, or undefined when unknown or revoked. */
export type NodeTokenVerifier = (plain: string) => string | undefined;

/** What NodeService.Connect reads of its call (Connect's HandlerContext, or the gRPC fast path's). */
export interface StreamCallContext {
  readonly requestHeader: HeaderReader;
  /** Aborts when the node goes away. */
  readonly signal: AbortSignal;
}

/** NodeService.Connect: authenticates the stream, then runs a NodeSession on it. */
export type NodeConnectHandler = (
  requests: AsyncIterable<NodeMessage>,
  ctx: StreamCallContext,
) => AsyncGenerator<ControlMessage>;

export function createNodeConnectHandler(
  deps: SessionDeps & { verifyNodeToken: NodeTokenVerifier },
): NodeConnectHandler {
  return async function* connect(requests, ctx) {
    const token = bearerToken(ctx.requestHeader.get("authorization"));
    const tokenId = token ? deps.verifyNodeToken(token) : undefined;
    if (!tokenId) throw new ConnectError("missing or invalid node token", Code.Unauthenticated);
    const session = new NodeSession(deps, tokenId);
    // The client going away aborts the handler's signal; end the session at once (DESIGN: no waiting for heartbeats).
    const onAbort = () => session.close(undefined, "client went away");
    ctx.signal.addEventListener("abort", onAbort, { once: true });
    // Not awaited: after we end the response the node's half of the stream may stay open a while.
    void session.run(requests);
    try {
      yield* session.out;
    } finally {
      ctx.signal.removeEventListener("abort", onAbort);
      session.close(undefined, "handler finished");
    }
  };
}

/** Registers NodeService.Connect on Connect (every protocol). */
export function registerNodeService(router: ConnectRouter, connect: NodeConnectHandler): void {
  router.service(NodeService, { connect });
}
