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
 * Two kinds of extra request cost nothing (the AWS SDKs' standard retry mode refunds the first;
 * Finagle, Linkerd and Envoy ratio budgets do neither, and so refuse retries that would succeed):
 * - a retry that ends in success costs nothing: the retry layer asks `allows()` before a retry and
 *   `charge()`s a retry only once it has failed, and a call that ends in success gets back
 *   (`refund`) what its failed retries were charged: it saved a call instead of piling onto a failing
 *   host, and on a flaky host most retries do;
 * - a retry of a request that was never sent (connection refused, DNS failure, connect timeout) is
 *   not charged at all: it costs the host nothing.
 * Hedges spend when they are sent (`spend`).
 *
 * The bound it gives: over any stretch of T ms in which C calls start, at most
 * `ratio·C + (minPerSecond·window/1000)·(⌈T/window⌉ + 1)` extra requests are made and not refunded —
 * in an outage, where nothing succeeds, that is every extra request. For a host called at `r` calls
 * per second that is an amplification of at most `1 + ratio + minPerSecond / r`.
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

  /** Adds `amount` now; returns when (the bucket's start), for `remove`. */
  add(amount = 1): number {
    this.#advance();
    this.#values[this.#bucket]! += amount;
    return this.#bucketStart;
  }

  /**
   * Takes back `amount` added at `stamp` (what `add` returned), from the bucket it went into; nothing
   * when that bucket has left the window already (the amount no longer counts anyway).
   */
  remove(amount: number, stamp: number): void {
    this.#advance();
    const age = Math.round((this.#bucketStart - stamp) / this.#bucketMs);
    if (age < 0 || age >= BUCKETS) return;
    const bucket = (this.#bucket - age + BUCKETS) % BUCKETS;
    this.#values[bucket] = Math.max(0, this.#values[bucket]! - amount);
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

/** One extra request's spending, as `RatioBudget.spend` returns it. */
export type Spending = { readonly at: number };

export class RatioBudget {
  #options: RatioBudgetOptions;
  #reserve: number;
  readonly #calls: SlidingSum;
  readonly #spent: SlidingSum;
  /** Extra requests refused since the budget was created. */
  #refused = 0;
  /** Extra requests given back since the budget was created (they ended in success). */
  #refunded = 0;

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

  /**
   * Spends one extra request if the budget allows. Returns the spending (to hand to `refund` if the
   * request ends in success), or `undefined` when refused.
   */
  spend(): Spending | undefined {
    if (this.balance() < 1) {
      this.#refused++;
      return undefined;
    }
    return { at: this.#spent.add() };
  }

  /** Spends one extra request if the budget allows; returns whether it did. */
  tryWithdraw(): boolean {
    return this.spend() !== undefined;
  }

  /** Whether one more extra request may be made now (counted as a refusal when not). Spends nothing. */
  allows(): boolean {
    if (this.balance() >= 1) return true;
    this.#refused++;
    return false;
  }

  /** Charges one extra request that was made (a retry that failed), whatever the balance. */
  charge(): Spending {
    return { at: this.#spent.add() };
  }

  /** Gives back what `spend` took: that extra request ended in success. */
  refund(spending: Spending): void {
    this.#spent.remove(1, spending.at);
    this.#refunded++;
  }

  /** Extra requests that may be made now (fractional: a call deposits `ratio` of one). */
  balance(): number {
    return this.#reserve + this.#options.ratio * this.#calls.sum() - this.#spent.sum();
  }

  /**
   * Plain numbers for stats(): calls and extra requests (not refunded) in the window, whole requests
   * left, and since the budget was made the refusals and the refunds.
   */
  snapshot(): { calls: number; spent: number; left: number; refused: number; refunded: number } {
    const left = Math.max(0, Math.floor(this.balance()));
    return { calls: this.#calls.sum(), spent: this.#spent.sum(), left, refused: this.#refused, refunded: this.#refunded };
  }
}
