/**
 * Recursive least squares with exponential forgetting: a linear model y ≈ θ·x learned one sample
 * at a time in O(d²), no history kept. It starts from a prior θ₀ (so a cold node already predicts
 * something sensible) whose strength is the prior variance: large variance → data take over after
 * a few samples. Forgetting (λ < 1) lets it follow a node whose speed drifts.
 *
 * Guards: non-finite inputs are ignored; the covariance trace is capped, because a feature that
 * never varies would otherwise make it grow as λ⁻ⁿ ("wind-up") and one odd sample would then
 * swing θ wildly; an update that produces a non-finite θ is rolled back.
 */
export class OnlineRegression {
  /** Number of features. */
  readonly dim: number;
  /** Current coefficients. */
  readonly theta: Float64Array;
  /** Samples learned so far. */
  samples = 0;
  private readonly p: Float64Array;
  private readonly px: Float64Array;
  private readonly backup: Float64Array;
  private readonly maxTrace: number;

  /** `prior` is θ₀; `priorVariance` the diagonal of the initial covariance (one value or one per feature). */
  constructor(
    prior: readonly number[],
    priorVariance: number | readonly number[],
    private readonly forgetting = 0.98,
  ) {
    this.dim = prior.length;
    this.theta = Float64Array.from(prior);
    this.p = new Float64Array(this.dim * this.dim);
    this.px = new Float64Array(this.dim);
    this.backup = new Float64Array(this.dim * this.dim + this.dim);
    let trace = 0;
    for (let i = 0; i < this.dim; i++) {
      const v = typeof priorVariance === "number" ? priorVariance : (priorVariance[i] ?? 1);
      this.p[i * this.dim + i] = v;
      trace += v;
    }
    this.maxTrace = trace * 10;
  }

  /** θ·x; NaN-free as long as x is finite. */
  predict(x: ArrayLike<number>): number {
    let y = 0;
    for (let i = 0; i < this.dim; i++) y += (this.theta[i] as number) * (x[i] as number);
    return y;
  }

  /** Learns one (x, y) sample; returns false when it was rejected as non-finite. */
  learn(x: ArrayLike<number>, y: number): boolean {
    const d = this.dim;
    if (!Number.isFinite(y)) return false;
    for (let i = 0; i < d; i++) if (!Number.isFinite(x[i] as number)) return false;
    const { p, px, theta, backup } = this;
    backup.set(p);
    backup.set(theta, d * d);
    let denom = this.forgetting;
    for (let i = 0; i < d; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += (p[i * d + j] as number) * (x[j] as number);
      px[i] = s;
      denom += (x[i] as number) * s;
    }
    if (!(denom > 0)) return false;
    const err = y - this.predict(x);
    let trace = 0;
    for (let i = 0; i < d; i++) {
      const ki = (px[i] as number) / denom;
      theta[i] = (theta[i] as number) + ki * err;
      for (let j = 0; j < d; j++) {
        p[i * d + j] = ((p[i * d + j] as number) - ki * (px[j] as number)) / this.forgetting;
      }
      trace += p[i * d + i] as number;
    }
    let ok = Number.isFinite(trace);
    for (let i = 0; ok && i < d; i++) ok = Number.isFinite(theta[i] as number);
    if (!ok) {
      p.set(backup.subarray(0, d * d));
      theta.set(backup.subarray(d * d));
      return false;
    }
    if (trace > this.maxTrace) {
      const scale = this.maxTrace / trace;
      for (let i = 0; i < d * d; i++) p[i] = (p[i] as number) * scale;
    }
    this.samples++;
    return true;
  }
}
