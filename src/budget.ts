/**
 * A ratio budget over a sliding window (Finagle's RetryBudget): every call deposits `ratio` of a
 * token, every extra request (a retry, a hedge) withdraws one, and a reserve of `minPerSecond`
 * tokens per second keeps low-traffic hosts able to retry at all. Why not gRPC's token bucket:
 * a bucket refilled per success drains for good during an outage and needs a success to recover,
 * while a sliding window forgets an outage after `window` ms by itself, and its balance reads as
 * "retries left" in stats().
 */
export type RatioBudgetOptions = {
  /** Extra requests per call allowed (0..1). */
  readonly ratio: number;
  /** Extra requests per second always allowed. */
  readonly minPerSecond: number;
  /** Sliding window, in milliseconds. */
  readonly window: number;
};

const BUCKETS = 10;

export class RatioBudget {
  readonly #ratio: number;
  readonly #reserve: number;
  readonly #bucketMs: number;
  readonly #calls = new Float64Array(BUCKETS);
  readonly #spent = new Float64Array(BUCKETS);
  #bucket = 0;
  #bucketStart = 0;
  readonly #now: () => number;

  constructor(options: RatioBudgetOptions, now: () => number = performance.now.bind(performance)) {
    this.#ratio = options.ratio;
    this.#reserve = (options.minPerSecond * options.window) / 1_000;
    this.#bucketMs = options.window / BUCKETS;
    this.#now = now;
    this.#bucketStart = now();
  }

  /** Moves the window forward, clearing buckets that fell out of it. */
  #advance(): void {
    const now = this.#now();
    const steps = Math.floor((now - this.#bucketStart) / this.#bucketMs);
    if (steps <= 0) return;
    for (let i = 0; i < Math.min(steps, BUCKETS); i++) {
      this.#bucket = (this.#bucket + 1) % BUCKETS;
      this.#calls[this.#bucket] = 0;
      this.#spent[this.#bucket] = 0;
    }
    this.#bucketStart += steps * this.#bucketMs;
  }

  #sum(values: Float64Array): number {
    let total = 0;
    for (const value of values) total += value;
    return total;
  }

  /** Records a call (a first attempt). */
  deposit(): void {
    this.#advance();
    this.#calls[this.#bucket]! += 1;
  }

  /** Spends one extra request if the budget allows; returns whether it did. */
  tryWithdraw(): boolean {
    if (this.balance() < 1) return false;
    this.#spent[this.#bucket]! += 1;
    return true;
  }

  /** Extra requests that may be made now. */
  balance(): number {
    this.#advance();
    return this.#reserve + this.#ratio * this.#sum(this.#calls) - this.#sum(this.#spent);
  }

  /** Plain numbers for stats(). */
  snapshot(): { calls: number; spent: number; left: number } {
    const left = Math.max(0, Math.floor(this.balance()));
    return { calls: this.#sum(this.#calls), spent: this.#sum(this.#spent), left };
  }
}
