// How busy the simulated GPU was lately: the basis of utilization.gpu, power and temperature.

const BUCKET_MS = 100;
const BUCKETS = 20;

/** Busy time per 100 ms of wall clock over the last 2 s, without timers. */
export class BusyMeter {
  private readonly busy = new Float64Array(BUCKETS);
  private readonly compute = new Float64Array(BUCKETS);
  private readonly epoch = new Float64Array(BUCKETS).fill(-1);

  constructor(private readonly startedAt: number) {}

  /**
   * Records a step that kept the GPU busy from `start` to `end` (wall-clock ms); `computeShare` is
   * the fraction of it bound by FLOPs rather than bandwidth (compute-bound steps draw more power).
   */
  record(start: number, end: number, computeShare: number): void {
    let t = start;
    while (t < end) {
      const bucket = Math.floor(t / BUCKET_MS);
      const until = Math.min(end, (bucket + 1) * BUCKET_MS);
      const i = bucket % BUCKETS;
      if (this.epoch[i] !== bucket) {
        this.epoch[i] = bucket;
        this.busy[i] = 0;
        this.compute[i] = 0;
      }
      this.busy[i] = (this.busy[i] as number) + (until - t);
      this.compute[i] = (this.compute[i] as number) + (until - t) * computeShare;
      t = until;
    }
  }

  /** Busy fraction (0..1) and compute-bound fraction of the busy time over the last `windowMs`. */
  read(now: number, windowMs = 1000): { busy: number; computeShare: number } {
    const window = Math.min(windowMs, BUCKETS * BUCKET_MS, Math.max(now - this.startedAt, 1));
    const from = Math.floor((now - window) / BUCKET_MS);
    const to = Math.floor(now / BUCKET_MS);
    let busy = 0;
    let compute = 0;
    for (let b = from; b <= to; b++) {
      const i = b % BUCKETS;
      if (this.epoch[i] !== b) continue;
      busy += this.busy[i] as number;
      compute += this.compute[i] as number;
    }
    return { busy: Math.min(1, busy / window), computeShare: busy > 0 ? compute / busy : 0 };
  }
}
