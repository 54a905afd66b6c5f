/**
 * A bounded window of one host's latest latencies (a ring of the last `capacity` samples), with a
 * nearest-rank percentile query. Pure and synchronous: the hedge layer records each branch's
 * time to headers here and asks for, say, p95 to decide when to hedge ('auto' delay).
 */
export class LatencyWindow {
  readonly #samples: Float64Array;
  #next = 0;
  #count = 0;
  /** Sorted copy of the samples; rebuilt lazily after a `record()`. */
  #sorted: Float64Array | undefined;

  constructor(capacity = 1_000) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be an integer >= 1, got ${capacity}`);
    this.#samples = new Float64Array(capacity);
  }

  /** Adds one latency in milliseconds; the oldest sample is dropped once the window is full. */
  record(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    this.#samples[this.#next] = ms;
    this.#next = (this.#next + 1) % this.#samples.length;
    if (this.#count < this.#samples.length) this.#count++;
    this.#sorted = undefined;
  }

  /** Samples held (at most `capacity`). */
  get size(): number {
    return this.#count;
  }

  /**
   * The nearest-rank percentile (0 < p <= 100) of the samples held: the smallest sample such that
   * at least `p` % of the samples are less than or equal to it. `undefined` while empty.
   */
  percentile(p: number): number | undefined {
    if (this.#count === 0) return undefined;
    this.#sorted ??= this.#samples.slice(0, this.#count).sort();
    const rank = Math.ceil((p / 100) * this.#count);
    const index = Math.min(this.#count - 1, Math.max(0, rank - 1));
    return this.#sorted[index];
  }
}
