import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "pino";
import {
  type CancelReason,
  type ControlMessage,
  ControlMessageSchema,
  EngineKind,
  GpuSource,
  type Heartbeat,
  type NodeMessage,
  type Register,
} from "../gen/llmlb/v1/node_pb.js";
import type { Scheduler } from "../jobs/scheduler.js";
import type { Metrics } from "../metrics/metrics.js";
import { type NodeRecord, opt } from "../nodes/node-record.js";
import type { NodeStore } from "../nodes/node-store.js";
import type { GpuLive } from "../nodes/types.js";
import { Channel } from "../util/channel.js";

/** What a session needs from the control plane. */
export interface SessionDeps {
  nodes: NodeStore;
  scheduler: Scheduler;
  metrics: Metrics;
  logger: Logger;
  heartbeatMs: number;
  /** Limit on one message, announced to the node. */
  maxMessageBytes: number;
  /** Sessions by node id, to refuse duplicates and to reach a node (drain, token revoked). */
  sessions: Map<string, NodeSession>;
}

const NODE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const REGISTER_TIMEOUT_MS = 10_000;
// DESIGN.md: a silent stream is offline after 3 missed heartbeats.
const MISSED_HEARTBEATS = 3;
const MAX_MODELS = 1024;
const MAX_GPUS = 64;

/** One connected node stream: reads NodeMessages, writes ControlMessages through a channel. */
export class NodeSession {
  readonly out = new Channel<ControlMessage>();
  node: NodeRecord | undefined;
  private log: Logger;
  private seqOut = 0n;
  private lastSeqIn = 0n;
  private watchdog: NodeJS.Timeout | undefined;
  private ended = false;

  constructor(
    private readonly d: SessionDeps,
    readonly tokenId: string,
  ) {
    this.log = d.logger.child({ stream: "node" });
  }

  /** Sends a control message down the stream. */
  send(msg: NonNullable<MessageInitShape<typeof ControlMessageSchema>["msg"]>): void {
    if (this.ended) return;
    this.seqOut++;
    this.d.metrics.streamMessages.inc({ direction: "down", kind: msg.case ?? "none" });
    this.out.push(
      create(ControlMessageSchema, { seq: this.seqOut, msg } as MessageInitShape<
        typeof ControlMessageSchema
      >),
    );
  }

  /** Consumes the node's messages until the stream ends; never throws. */
  async run(requests: AsyncIterable<NodeMessage>): Promise<void> {
    this.armWatchdog(REGISTER_TIMEOUT_MS, "no Register within 10 s");
    try {
      for await (const msg of requests) {
        if (this.ended) break;
        this.handle(msg);
      }
      this.finish(undefined, "stream closed by node");
    } catch (err) {
      const ce = ConnectError.from(err);
      this.finish(ce.code === Code.Canceled ? undefined : ce, `stream broke: ${ce.rawMessage}`);
    }
  }

  /** Ends the stream with a status (token revoked, shutdown, protocol error). */
  close(error: ConnectError | undefined, why: string): void {
    this.finish(error, why);
  }

  /** Asks the node to drain: it finishes in-flight jobs and takes no new ones. */
  drain(reason: string): void {
    if (!this.node) return;
    this.send({ case: "drain", value: { reason } });
    this.d.nodes.setState(this.node, "draining");
  }

  private handle(msg: NodeMessage): void {
    if (msg.seq <= this.lastSeqIn) {
      this.protocolError(
        Code.InvalidArgument,
        "bad_sequence",
        `seq ${msg.seq} is not above ${this.lastSeqIn}`,
      );
      return;
    }
    this.lastSeqIn = msg.seq;
    this.d.metrics.streamMessages.inc({ direction: "up", kind: msg.msg.case ?? "none" });
    if (msg.msg.case === "register") {
      this.register(msg.msg.value);
      return;
    }
    const node = this.node;
    if (!node) {
      this.protocolError(
        Code.FailedPrecondition,
        "not_registered",
        `${msg.msg.case ?? "empty message"} before Register`,
      );
      return;
    }
    node.lastSeenMs = Date.now();
    this.armWatchdog(this.d.heartbeatMs * MISSED_HEARTBEATS, `missed ${MISSED_HEARTBEATS} heartbeats`);
    switch (msg.msg.case) {
      case "heartbeat":
        this.heartbeat(node, msg.msg.value);
        return;
      case "chunk": {
        const verdict = this.d.scheduler.handleChunk(node.id, msg.msg.value);
        if (verdict === "foreign" || verdict === "unknown") {
          this.protocolError(
            Code.PermissionDenied,
            "foreign_job",
            `chunk for job ${msg.msg.value.jobId} that this node does not own`,
          );
          return;
        }
        return;
      }
      case "modelsChanged":
        this.applyModels(node, msg.msg.value.models);
        return;
      case "draining":
        this.log.info({ reason: msg.msg.value.reason }, "node is draining");
        this.d.nodes.setState(node, "draining");
        return;
      case "pong":
        return;
      default:
        this.protocolError(Code.InvalidArgument, "empty_message", "message with no content");
        return;
    }
  }

  private register(r: Register): void {
    if (this.node) {
      this.protocolError(Code.FailedPrecondition, "already_registered", "second Register on one stream");
      return;
    }
    const bad = validateRegister(r);
    if (bad) {
      this.protocolError(Code.InvalidArgument, "bad_register", bad);
      return;
    }
    const existing = this.d.sessions.get(r.nodeId);
    if (existing && existing !== this) {
      this.protocolError(Code.AlreadyExists, "duplicate_node_id", `node id ${r.nodeId} is already connected`);
      return;
    }
    const { node, resumed } = this.d.nodes.upsert(r.nodeId);
    this.node = node;
    this.log = this.d.logger.child({ nodeId: node.id });
    this.d.sessions.set(node.id, this);
    node.identity = {
      hostname: r.hostname,
      agentVersion: r.agentVersion,
      engineKind: engineName(r.engineKind),
      engineVersion: r.engineVersion,
      gpuSource: gpuSourceName(r.gpuSource),
      gpuNote: r.gpuNote,
    };
    node.gpus = r.gpus.map((g) => ({
      index: g.index,
      uuid: g.uuid,
      name: g.name,
      vramTotalMib: Number(g.vramTotalMib),
      computeCapability: g.computeCapability,
      driverVersion: g.driverVersion,
    }));
    const l = r.labels;
    node.labels = {
      region: l?.region ?? "",
      tier: l?.tier ?? "",
      ...opt("costPerHourUsd", l?.costPerHourUsd),
    };
    node.maxConcurrency = r.maxConcurrentJobs;
    node.lastSeenMs = Date.now();
    node.registeredAtMs = node.lastSeenMs;
    node.inFlight = 0;
    this.applyModels(node, r.models, false);
    this.d.nodes.setState(node, "online");
    this.d.nodes.announce(node, resumed);
    this.send({
      case: "registerAck",
      value: {
        nodeId: node.id,
        heartbeatIntervalMs: this.d.heartbeatMs,
        limits: { maxConcurrentJobs: r.maxConcurrentJobs, maxMessageBytes: this.d.maxMessageBytes },
        resumed,
      },
    });
    this.d.metrics.streamsOpen.inc();
    this.log.info(
      { resumed, models: node.modelIds, engine: node.identity.engineKind, slots: node.maxConcurrency },
      "node registered",
    );
    this.armWatchdog(this.d.heartbeatMs * MISSED_HEARTBEATS, `missed ${MISSED_HEARTBEATS} heartbeats`);
    this.d.scheduler.attach(node.id, {
      sendJob: (job) => this.send({ case: "job", value: job }),
      sendCancel: (jobId: string, reason: CancelReason) =>
        this.send({ case: "cancel", value: { jobId, reason } }),
    });
  }

  private applyModels(node: NodeRecord, models: Register["models"], announce = true): void {
    if (models.length > MAX_MODELS) {
      this.protocolError(Code.InvalidArgument, "bad_models", `more than ${MAX_MODELS} models`);
      return;
    }
    const ids = models.map((m) => m.id).filter((id) => id.length > 0 && id.length <= 256);
    const aliases = models.flatMap((m) => m.aliases).filter((a) => a.length > 0 && a.length <= 256);
    this.d.nodes.setModels(node, ids, aliases);
    if (announce) {
      this.d.nodes.touch(node);
      this.d.scheduler.pump();
    }
  }

  private heartbeat(node: NodeRecord, hb: Heartbeat): void {
    const now = Date.now();
    if (hb.gpus.length > MAX_GPUS) {
      this.protocolError(Code.InvalidArgument, "bad_heartbeat", `more than ${MAX_GPUS} GPUs`);
      return;
    }
    // Age is measured by the node; subtracting it from our own clock avoids trusting the node's clock.
    const gpuAge = hb.gpus.reduce((a, g) => Math.max(a, g.ageMs), 0);
    node.gpuLive = hb.gpus.map(
      (g): GpuLive => ({
        index: g.index,
        ...opt("utilizationPercent", finite(g.utilizationPercent, 0, 100)),
        ...opt("vramUsedMib", g.vramUsedMib === undefined ? undefined : Number(g.vramUsedMib)),
        ...opt("vramTotalMib", g.vramTotalMib === undefined ? undefined : Number(g.vramTotalMib)),
        ...opt("temperatureCelsius", finite(g.temperatureCelsius, -50, 200)),
        ...opt("powerWatts", finite(g.powerWatts, 0, 5000)),
      }),
    );
    node.gpuAtMs = hb.gpus.length > 0 ? now - gpuAge : 0;
    const e = hb.engine;
    if (e) {
      node.engineLive = {
        healthy: e.healthy,
        ...opt("runningRequests", e.runningRequests),
        ...opt("waitingRequests", e.waitingRequests),
        ...opt("kvCacheUsage", finite(e.kvCacheUsage, 0, 1)),
        ...opt("prefixCacheHitRate", finite(e.prefixCacheHitRate, 0, 1)),
      };
      node.engineAtMs = now - e.ageMs;
    }
    node.hostCpuPercent = finite(hb.host?.cpuPercent, 0, 100);
    node.hostMemoryPercent = finite(hb.host?.memoryPercent, 0, 100);
    node.pushHistory();
    this.d.nodes.touch(node);
    // A heartbeat may show the engine healthy again: give queued work a chance.
    this.d.scheduler.pump();
  }

  private protocolError(code: Code, noticeCode: string, message: string): void {
    this.d.metrics.streamErrors.inc({ code: noticeCode });
    this.log.warn({ code: noticeCode }, `node stream error: ${message}`);
    this.send({ case: "notice", value: { code: noticeCode, message, fatal: true } });
    this.finish(new ConnectError(message, code), message);
  }

  private armWatchdog(ms: number, why: string): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => this.finish(new ConnectError(why, Code.DeadlineExceeded), why), ms);
    this.watchdog.unref();
  }

  private finish(error: ConnectError | undefined, why: string): void {
    if (this.ended) return;
    this.ended = true;
    if (this.watchdog) clearTimeout(this.watchdog);
    const node = this.node;
    if (node && this.d.sessions.get(node.id) === this) {
      this.d.sessions.delete(node.id);
      this.d.metrics.streamsOpen.dec();
      this.d.nodes.setState(node, "offline");
      this.log.info({ why }, "node offline");
      this.d.scheduler.nodeLost(node.id);
    }
    this.out.close(error);
  }
}

function validateRegister(r: Register): string | undefined {
  if (!NODE_ID_RE.test(r.nodeId))
    return "node_id must be 1-128 characters of letters, digits, '.', '_', ':', '-'";
  if (r.maxConcurrentJobs < 1 || r.maxConcurrentJobs > 100_000)
    return "max_concurrent_jobs must be between 1 and 100000";
  if (r.gpus.length > MAX_GPUS) return `more than ${MAX_GPUS} GPUs`;
  if (r.engineKind === EngineKind.UNSPECIFIED) return "engine_kind is required";
  const cost = r.labels?.costPerHourUsd;
  if (cost !== undefined && (!Number.isFinite(cost) || cost < 0))
    return "labels.cost_per_hour_usd must be a non-negative number";
  return undefined;
}

/** Drops non-finite or out-of-range figures: garbage from a node must not reach selection. */
function finite(v: number | undefined, min: number, max: number): number | undefined {
  return v !== undefined && Number.isFinite(v) && v >= min && v <= max ? v : undefined;
}

function engineName(k: EngineKind): string {
  return (EngineKind[k] ?? "unspecified").toLowerCase();
}

function gpuSourceName(s: GpuSource): string {
  return (GpuSource[s] ?? "unspecified").toLowerCase().replace(/_/g, "-");
}
