import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../gen/grpc/health/v1/health_pb.js";
import type { ServingState } from "./serving-state.js";

/**
 * grpc.health.v1.Health for the services on this router ("" is the server as a whole): SERVING
 * until the control plane starts shutting down, NOT_SERVING from then on. No credentials needed,
 * as load balancers and Kubernetes probes expect. Watch ends after reporting the shutdown, so it
 * never holds the port open.
 */
export function registerHealthService(router: ConnectRouter, serving: ServingState): void {
  // Read at call time: services registered after this one (reflection) count too.
  const known = () => new Set(["", ...router.handlers.map((h) => h.service.typeName)]);
  const statusOf = (service: string): Status | undefined => {
    if (!known().has(service)) return undefined;
    return serving.isServing ? Status.SERVING : Status.NOT_SERVING;
  };
  router.service(Health, {
    check(req) {
      const status = statusOf(req.service);
      if (status === undefined) throw new ConnectError(`unknown service '${req.service}'`, Code.NotFound);
      return { status };
    },
    list() {
      const statuses: Record<string, { status: Status }> = {};
      for (const name of [...known()].sort()) statuses[name] = { status: statusOf(name) ?? Status.UNKNOWN };
      return { statuses };
    },
    async *watch(req, ctx) {
      yield { status: statusOf(req.service) ?? Status.SERVICE_UNKNOWN };
      if (!serving.isServing) return;
      await new Promise<void>((resolve) => {
        const off = serving.onShutdown(done);
        ctx.signal.addEventListener("abort", done, { once: true });
        function done() {
          off();
          ctx.signal.removeEventListener("abort", done);
          resolve();
        }
      });
      if (!ctx.signal.aborted) yield { status: statusOf(req.service) ?? Status.SERVICE_UNKNOWN };
    },
  });
}
