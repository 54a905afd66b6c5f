/**
 * Sliding-window counting, and the budgets built on it.
 *
 * A ratio budget over a sliding window (Finagle's RetryBudget): every call deposits `ratio` of a
 * token, every extra request (a retry, a hedge) withdraws one, and a reserve of `minPerSecond`
 * tokens per second keeps low-traffic hosts able to retry at all. Why not gRPC's token bucket:
 * a bucket refilled per success drains for good during an outage and needs a success to recover,
 * while a sliding window forgets an outage after `window` ms by itself, and its balance reads as
 * "retries left" in stats().
 *
 * The bound it gives: over any stretch of T ms in which C calls start, at most
 * `ratio·C + (minPerSecond·window/1000)·(⌈T/window⌉ + 1)` extra requests are made. For a host called at
 * `r` calls per second that is an amplification of at most `1 + ratio + minPerSecond / r`.
 */

/** The clock budgets read: milliseconds, monotonic. */
export type Clock = () => number;

const defaultClock: Clock = () => performance.now();

const BUCKETS = 10;

/**
 * A sum over a sliding window, kept in `BUCKETS` equal buckets: what was added more than
 * `window` ms ago (to the bucket's resolution) no longer counts.
 */
export class SlidingSum {
  readonly #bucketMs: number;
  readonly #values = new Float64Array(BUCKETS);
  readonly #now: Clock;
  #bucket = 0;
  #bucketStart: number;

  constructor(window: number, now: Clock = defaultClock) {
    if (!(window > 0) || !Number.isFinite(window)) throw new RangeError(`window must be a number > 0, got ${window}`);
    this.#bucketMs = window / BUCKETS;
    this.#now = now;
    this.#bucketStart = now();
  }

  /** Moves the window forward, clearing buckets that fell out of it. */
  #advance(): void {
    const steps = Math.floor((this.#now() - this.#bucketStart) / this.#bucketMs);
    if (steps <= 0) return;
    for (let i = 0; i < Math.min(steps, BUCKETS); i++) {
      this.#bucket = (this.#bucket + 1) % BUCKETS;
      this.#values[this.#bucket] = 0;
    }
    this.#bucketStart += steps * this.#bucketMs;
  }

  add(amount = 1): void {
    this.#advance();
    this.#values[this.#bucket]! += amount;
  }

  sum(): number {
    this.#advance();
    let total = 0;
    for (const value of this.#values) total += value;
    return total;
  }
}

export type RatioBudgetOptions = {
  /** Extra requests per call allowed (0..1). */
  readonly ratio: number;
  /** Extra requests per second always allowed. */
  readonly minPerSecond: number;
  /** Sliding window, in milliseconds. */
  readonly window: number;
};

export class RatioBudget {
  #options: RatioBudgetOptions;
  #reserve: number;
  readonly #calls: SlidingSum;
  readonly #spent: SlidingSum;
  /** Extra requests refused since the budget was created. */
  #refused = 0;

  constructor(options: RatioBudgetOptions, now: Clock = defaultClock) {
    this.#options = Object.freeze({ ratio: options.ratio, minPerSecond: options.minPerSecond, window: options.window });
    this.#reserve = (options.minPerSecond * options.window) / 1_000;
    this.#calls = new SlidingSum(options.window, now);
    this.#spent = new SlidingSum(options.window, now);
  }

  get options(): RatioBudgetOptions {
    return this.#options;
  }

  /**
   * Applies another `ratio` and `minPerSecond` from now on, to the calls and spending already in
   * the window: a budget whose settings change keeps its state (rebuilding it would hand out a fresh
   * reserve each time). The window keeps its length.
   */
  apply({ ratio, minPerSecond }: Pick<RatioBudgetOptions, 'ratio' | 'minPerSecond'>): void {
    const current = this.#options;
    if (ratio === current.ratio && minPerSecond === current.minPerSecond) return;
    this.#options = Object.freeze({ ratio, minPerSecond, window: current.window });
    this.#reserve = (minPerSecond * current.window) / 1_000;
  }

  /** Records a call (a first attempt). */
  deposit(): void {
    this.#calls.add();
  }

  /** Spends one extra request if the budget allows; returns whether it did. */
  tryWithdraw(): boolean {
    if (this.balance() < 1) {
      this.#refused++;
      return false;
    }
    this.#spent.add();
    return true;
  }

  /** Extra requests that may be made now (fractional: a call deposits `ratio` of one). */
  balance(): number {
    return this.#reserve + this.#options.ratio * this.#calls.sum() - this.#spent.sum();
  }

  /** Plain numbers for stats(): calls and extra requests in the window, whole requests left, refusals. */
  snapshot(): { calls: number; spent: number; left: number; refused: number } {
    const left = Math.max(0, Math.floor(this.balance()));
    return { calls: this.#calls.sum(), spent: this.#spent.sum(), left, refused: this.#refused };
  }
}
