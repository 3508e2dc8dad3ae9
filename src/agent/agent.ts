import net from "node:net";
import os from "node:os";
import type tls from "node:tls";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import {
  type ControlMessage,
  EngineKind,
  GpuSource,
  type Job,
  JobErrorKind,
  type NodeMessageSchema,
} from "../gen/llmlb/v1/node_pb.js";
import type { AgentConfig } from "./agent-config.js";
import type { HostSample } from "./collectors/host.js";
import type { GpuCollector, GpuReading } from "./collectors/types.js";
import { closeIdleEngineConnections } from "./engines/engine-client.js";
import type { EngineAdapter, EngineModel, EngineProbe } from "./engines/types.js";
import { type ChunkInit, runJob } from "./job-runner.js";
import { type NodeStream, openNodeStream, StreamCode, StreamError } from "./node-stream-client.js";

type NodeMessageInit = MessageInitShape<typeof NodeMessageSchema>;

/** The agent's version, reported at registration. */
export const AGENT_VERSION = "0.1.0";
const BACKOFF_BASE_MS = 250;
const BACKOFF_MAX_MS = 30_000;
// A connection that stayed up this long resets the backoff.
const STABLE_CONNECTION_MS = 10_000;
const MODELS_REFRESH_MS = 5_000;
const DEFAULT_SLOTS = 64;
const STREAM_CLOSE_GRACE_MS = 3_000;

const ENGINE_KIND: Record<string, EngineKind> = {
  vllm: EngineKind.VLLM,
  sglang: EngineKind.SGLANG,
  llamacpp: EngineKind.LLAMACPP,
  ollama: EngineKind.OLLAMA,
  tgi: EngineKind.TGI,
  openai: EngineKind.OPENAI,
  sim: EngineKind.SIM,
};
const GPU_SOURCE: Record<GpuReading["source"], GpuSource> = {
  none: GpuSource.NONE,
  "nvidia-smi": GpuSource.NVIDIA_SMI,
  "rocm-smi": GpuSource.ROCM_SMI,
  simulated: GpuSource.SIMULATED,
};

/** Parts the agent is assembled from (built at the edge, in main.ts). */
export interface AgentParts {
  config: AgentConfig;
  engine: EngineAdapter;
  gpu: GpuCollector;
  host: { sample(): HostSample };
  logger: Logger;
}

/**
 * The node agent: dials out to the control plane, keeps one bidi stream, registers, heartbeats,
 * runs jobs against the engine and relays chunks; reconnects with backoff and drains on request.
 */
export class NodeAgent {
  private readonly cfg: AgentConfig;
  private readonly log: Logger;
  private readonly running = new Map<string, AbortController>();
  private draining = false;
  private stopped = false;
  private out: NodeStream | undefined;
  private seq = 0n;
  private hbSeq = 0n;
  private models: EngineModel[] = [];
  private probe: EngineProbe = { healthy: false, note: "not probed yet" };
  private probeAtMs = 0;
  private simGpu: GpuReading | undefined;
  private slots = DEFAULT_SLOTS;
  private engineVersion = "";
  private probing = false;
  private connectionAbort: AbortController | undefined;
  private loopDone: Promise<void> | undefined;
  private timers: NodeJS.Timeout[] = [];
  private idleWaiters: (() => void)[] = [];
  /** Registered with the control plane right now. */
  connected = false;

  constructor(private readonly p: AgentParts) {
    this.cfg = p.config;
    this.log = p.logger.child({ nodeId: p.config.nodeId });
  }

  /** Reads the engine once, starts the GPU collector and the connection loop. */
  async start(): Promise<void> {
    await this.p.gpu.start();
    await this.refreshEngine(true);
    const own = this.cfg.maxConcurrency;
    const engineSlots = own > 0 ? undefined : await this.p.engine.maxConcurrency?.().catch(() => undefined);
    this.slots = own > 0 ? own : (engineSlots ?? DEFAULT_SLOTS);
    this.timers.push(
      setInterval(() => void this.refreshEngine(false), Math.max(250, this.cfg.heartbeatSecs * 1000)),
      setInterval(() => void this.refreshModels(), MODELS_REFRESH_MS),
    );
    this.loopDone = this.connectLoop();
  }

  /** Drains (finishes in-flight jobs, takes no new ones) then disconnects; `drain=false` aborts jobs. */
  async stop(drain = true): Promise<void> {
    if (drain && !this.draining) {
      this.draining = true;
      this.sendMsg({ case: "draining", value: { reason: "agent stopping" } });
      await this.waitIdle(this.cfg.drainTimeoutSecs * 1000);
    }
    this.stopped = true;
    for (const c of this.running.values()) c.abort();
    for (const t of this.timers) clearInterval(t);
    const inSession = this.out !== undefined;
    this.out?.close();
    // Half-close and let queued chunks flush before cutting the stream; a backoff sleep is cut at once.
    if (inSession)
      await Promise.race([this.loopDone, new Promise((r) => setTimeout(r, STREAM_CLOSE_GRACE_MS))]);
    this.connectionAbort?.abort();
    await this.loopDone;
    await this.p.gpu.stop();
    closeIdleEngineConnections();
  }

  private waitIdle(timeoutMs: number): Promise<void> {
    if (this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  private async connectLoop(): Promise<void> {
    let attempt = 0;
    while (!this.stopped) {
      const startedAt = Date.now();
      try {
        await this.session();
      } catch (err) {
        const se = err instanceof StreamError ? err : new StreamError(String(err), StreamCode.UNKNOWN);
        if (!this.stopped) this.log.warn({ code: se.codeName, err: se.message }, "node stream ended");
        if (se.code === StreamCode.UNAUTHENTICATED)
          this.log.error("the control plane refused the node token");
      }
      this.connected = false;
      this.abortAll("stream lost");
      if (this.stopped) break;
      attempt = Date.now() - startedAt > STABLE_CONNECTION_MS ? 1 : attempt + 1;
      // Full jitter keeps a fleet that lost the control plane from reconnecting in lockstep.
      const delay = Math.random() * Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1));
      await new Promise<void>((r) => {
        const t = setTimeout(r, delay);
        this.connectionAbort = new AbortController();
        this.connectionAbort.signal.addEventListener("abort", () => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  private async session(): Promise<void> {
    this.seq = 0n;
    this.connectionAbort = new AbortController();
    const out = openNodeStream({
      server: this.cfg.server,
      token: this.cfg.token,
      signal: this.connectionAbort.signal,
      // Small chunk messages must not wait for Nagle's algorithm (40 ms stalls against delayed ACKs).
      createConnection: dialNoDelay,
      userAgent: `llmlb-agent/${AGENT_VERSION}`,
    });
    this.out = out;
    this.sendMsg({ case: "register", value: this.registration() });
    let hbTimer: NodeJS.Timeout | undefined;
    try {
      for await (const msg of out.messages) {
        if (msg.msg.case === "registerAck") {
          const ack = msg.msg.value;
          this.connected = true;
          // The control plane's interval wins when it is shorter: it drops nodes after 3 missed beats.
          const ms = Math.min(
            this.cfg.heartbeatSecs * 1000,
            ack.heartbeatIntervalMs || Number.POSITIVE_INFINITY,
          );
          if (hbTimer) clearInterval(hbTimer);
          hbTimer = setInterval(() => this.heartbeat(), ms);
          this.heartbeat();
          this.log.info(
            { resumed: ack.resumed, heartbeatMs: ms, slots: this.slots },
            "registered with the control plane",
          );
          if (this.draining) this.sendMsg({ case: "draining", value: { reason: "agent stopping" } });
        } else this.handle(msg);
      }
    } finally {
      if (hbTimer) clearInterval(hbTimer);
      out.close();
      if (this.out === out) this.out = undefined;
    }
  }

  private handle(msg: ControlMessage): void {
    switch (msg.msg.case) {
      case "job":
        this.startJob(msg.msg.value);
        return;
      case "cancel": {
        this.running.get(msg.msg.value.jobId)?.abort();
        return;
      }
      case "drain":
        this.log.info({ reason: msg.msg.value.reason }, "drain requested by the control plane");
        this.draining = true;
        this.sendMsg({ case: "draining", value: { reason: msg.msg.value.reason } });
        return;
      case "ping":
        this.sendMsg({
          case: "pong",
          value: { pingId: msg.msg.value.pingId, pingSentAtUnixMs: msg.msg.value.sentAtUnixMs },
        });
        return;
      case "notice":
        this.log.warn(
          { code: msg.msg.value.code, fatal: msg.msg.value.fatal },
          `control plane notice: ${msg.msg.value.message}`,
        );
        return;
      default:
        return;
    }
  }

  private startJob(job: Job): void {
    const send = (chunk: ChunkInit) => {
      this.sendMsg({ case: "chunk", value: chunk });
      // The slot is free once the job is reported done: the runner may still drain the engine's
      // body, and a job the control plane sends into that slot meanwhile must not find it "full".
      if (chunk.done) this.jobEnded(job.jobId);
    };
    if (this.draining || this.running.size >= this.slots || !this.probe.healthy) {
      const why = this.draining
        ? "node is draining"
        : this.running.size >= this.slots
          ? "node is full"
          : "engine is unhealthy";
      send({ jobId: job.jobId, index: 0, error: { kind: JobErrorKind.REJECTED, message: why }, done: true });
      return;
    }
    const abort = new AbortController();
    this.running.set(job.jobId, abort);
    runJob(job, this.p.engine, send, abort.signal, this.cfg.engineApiKey)
      .catch((err) => {
        this.log.error({ err, jobId: job.jobId }, "job runner failed");
        send({
          jobId: job.jobId,
          index: 0,
          error: { kind: JobErrorKind.ENGINE_UNAVAILABLE, message: "agent error" },
          done: true,
        });
      })
      .finally(() => this.jobEnded(job.jobId));
  }

  private jobEnded(jobId: string): void {
    if (!this.running.delete(jobId)) return;
    if (this.running.size === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  private abortAll(why: string): void {
    if (this.running.size > 0) this.log.warn({ jobs: this.running.size }, `aborting in-flight jobs: ${why}`);
    for (const c of this.running.values()) c.abort();
  }

  private sendMsg(msg: NodeMessageInit["msg"]): void {
    if (!this.out || this.out.closed) return;
    this.seq++;
    this.out.send({ seq: this.seq, msg } as NodeMessageInit);
  }

  private gpuReading(): GpuReading {
    return this.simGpu ?? this.p.gpu.latest();
  }

  private registration() {
    const g = this.gpuReading();
    const cost = this.cfg.costPerHour;
    return {
      nodeId: this.cfg.nodeId,
      hostname: os.hostname(),
      agentVersion: AGENT_VERSION,
      engineKind: ENGINE_KIND[this.cfg.engine] ?? EngineKind.OPENAI,
      engineVersion: this.engineVersion,
      models: this.models.map((m) => ({
        id: m.id,
        aliases: m.aliases,
        maxContextTokens: m.maxContextTokens,
      })),
      maxConcurrentJobs: this.slots,
      gpus: g.facts.map((f) => ({
        index: f.index,
        uuid: f.uuid,
        name: f.name,
        vramTotalMib: BigInt(Math.round(f.vramTotalMib)),
        computeCapability: f.computeCapability,
        driverVersion: f.driverVersion,
      })),
      labels: {
        region: this.cfg.region,
        tier: this.cfg.tier,
        ...(cost >= 0 ? { costPerHourUsd: cost } : {}),
      },
      gpuSource: GPU_SOURCE[g.source],
      gpuNote: g.note,
    };
  }

  private heartbeat(): void {
    const g = this.gpuReading();
    const h = this.p.host.sample();
    const p = this.probe;
    const ageMs = Number.isFinite(g.ageMs) ? Math.min(Math.round(g.ageMs), 4_000_000_000) : 0;
    this.hbSeq++;
    this.sendMsg({
      case: "heartbeat",
      value: {
        sequence: this.hbSeq,
        sentAtUnixMs: BigInt(Date.now()),
        gpus: g.samples.map((s) => ({
          index: s.index,
          ...(s.utilizationPercent !== undefined ? { utilizationPercent: s.utilizationPercent } : {}),
          ...(s.vramUsedMib !== undefined ? { vramUsedMib: BigInt(Math.round(s.vramUsedMib)) } : {}),
          ...(s.vramTotalMib !== undefined ? { vramTotalMib: BigInt(Math.round(s.vramTotalMib)) } : {}),
          ...(s.temperatureCelsius !== undefined ? { temperatureCelsius: s.temperatureCelsius } : {}),
          ...(s.powerWatts !== undefined ? { powerWatts: s.powerWatts } : {}),
          ageMs,
        })),
        engine: {
          healthy: p.healthy,
          note: p.note,
          ageMs: Math.max(0, Date.now() - this.probeAtMs),
          ...(p.runningRequests !== undefined ? { runningRequests: p.runningRequests } : {}),
          ...(p.waitingRequests !== undefined ? { waitingRequests: p.waitingRequests } : {}),
          ...(p.kvCacheUsage !== undefined ? { kvCacheUsage: p.kvCacheUsage } : {}),
          ...(p.prefixCacheHitRate !== undefined ? { prefixCacheHitRate: p.prefixCacheHitRate } : {}),
        },
        host: {
          ...(h.cpuPercent !== undefined ? { cpuPercent: h.cpuPercent } : {}),
          ...(h.memoryPercent !== undefined ? { memoryPercent: h.memoryPercent } : {}),
        },
        activeJobs: this.running.size,
      },
    });
  }

  private async refreshEngine(first: boolean): Promise<void> {
    if (this.probing) return;
    this.probing = true;
    try {
      const e = this.p.engine;
      const [probe, sim] = await Promise.all([
        e.probe(),
        e.gpuReading ? e.gpuReading().catch(() => undefined) : undefined,
      ]);
      const wasHealthy = this.probe.healthy;
      this.probe = probe;
      this.probeAtMs = Date.now();
      if (sim) this.simGpu = sim;
      if (!first && wasHealthy !== probe.healthy) {
        this.log.warn({ healthy: probe.healthy, note: probe.note }, "engine health changed");
        if (probe.healthy) await this.refreshModels();
      }
      if (first) {
        this.engineVersion = await e.version().catch(() => "");
        this.models = await e.listModels().catch(() => []);
      }
    } finally {
      this.probing = false;
    }
  }

  private async refreshModels(): Promise<void> {
    const models = await this.p.engine.listModels().catch(() => undefined);
    if (!models) return;
    const key = (ms: EngineModel[]) => JSON.stringify(ms.map((m) => [m.id, m.aliases]));
    if (key(models) === key(this.models)) return;
    this.models = models;
    this.log.info({ models: models.map((m) => m.id) }, "engine models changed");
    this.sendMsg({
      case: "modelsChanged",
      value: {
        models: models.map((m) => ({ id: m.id, aliases: m.aliases, maxContextTokens: m.maxContextTokens })),
      },
    });
  }
}

/**
 * Opens the control-plane connection with TCP_NODELAY (and ALPN h2 over TLS). node:tls loads only
 * for an https:// control plane (~2 MiB of RSS that an h2c agent does without).
 */
function dialNoDelay(authority: URL): net.Socket {
  const port = Number(authority.port) || (authority.protocol === "https:" ? 443 : 80);
  const host = authority.hostname.replace(/^\[|\]$/g, "");
  const socket =
    authority.protocol === "https:"
      ? process.getBuiltinModule("node:tls").connect({
          host,
          port,
          servername: net.isIP(host) ? undefined : host,
          ALPNProtocols: ["h2"],
        } as tls.ConnectionOptions)
      : net.connect({ host, port });
  socket.setNoDelay(true);
  return socket;
}
