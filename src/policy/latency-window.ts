/**
 * A bounded window of one host's latest latencies (a ring of the last `capacity` samples), with a
 * nearest-rank percentile query. Pure and synchronous: the hedge layer records each branch's
 * time to headers here and asks for, say, p95 to decide when to hedge ('auto' delay).
 *
 * A sorted copy is kept up to date on every `record()` (binary search and one `copyWithin` for the
 * evicted sample and one for the new one: about a microsecond for 1,000 samples), so a query is a
 * single array read. Re-sorting per query costs some 100 µs per call at 1,000 samples.
 */
export class LatencyWindow {
  /** Samples in arrival order; `#next` is where the next one goes (and the oldest once full). */
  readonly #ring: Float64Array;
  /** The same samples, ascending, in `#sorted[0 .. #count)`. */
  readonly #sorted: Float64Array;
  #next = 0;
  #count = 0;

  constructor(capacity = 1_000) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be an integer >= 1, got ${capacity}`);
    this.#ring = new Float64Array(capacity);
    this.#sorted = new Float64Array(capacity);
  }

  /** Adds one latency in milliseconds; the oldest sample is dropped once the window is full. */
  record(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    const sorted = this.#sorted;
    if (this.#count === this.#ring.length) {
      const oldest = this.#ring[this.#next]!;
      const at = this.#lowerBound(oldest);
      sorted.copyWithin(at, at + 1, this.#count);
      this.#count--;
    }
    this.#ring[this.#next] = ms;
    this.#next = (this.#next + 1) % this.#ring.length;
    const at = this.#lowerBound(ms);
    sorted.copyWithin(at + 1, at, this.#count);
    sorted[at] = ms;
    this.#count++;
  }

  /** The first index in the sorted samples whose value is >= `ms`. */
  #lowerBound(ms: number): number {
    let low = 0;
    let high = this.#count;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.#sorted[mid]! < ms) low = mid + 1;
      else high = mid;
    }
    return low;
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
    const rank = Math.ceil((p / 100) * this.#count);
    return this.#sorted[Math.min(this.#count - 1, Math.max(0, rank - 1))];
  }
}
