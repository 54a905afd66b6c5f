/**
 * Adaptive client-side throttling's arithmetic (Google SRE book, "Handling Overload"), one origin's
 * counts over a sliding window. Pure: the clock is injected; the origin's state record holds one.
 * The layer that uses it is layers/throttle.ts.
 */
import { SlidingSum, type Clock } from './budget.js';
import type { ResolvedThrottle } from '../options.js';

/** Responses that say the host refused the request (overload, or nothing behind the gateway). */
export const REFUSED_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);

/** The SRE book's client-side rejection probability, capped at `max`. */
export const rejectionProbability = (requests: number, accepts: number, k: number, max = 1): number =>
  Math.min(max, Math.max(0, (requests - k * accepts) / (requests + 1)));

/** One origin's counts over the window. */
export class ThrottleState {
  readonly #requests: SlidingSum;
  readonly #accepts: SlidingSum;
  /** Requests rejected locally since the state was created. */
  rejected = 0;
  /** The policy of the last request (`k`, `maxProbability`), for stats(). */
  options: ResolvedThrottle;

  constructor(options: ResolvedThrottle, now?: Clock) {
    this.#requests = new SlidingSum(options.window, now);
    this.#accepts = new SlidingSum(options.window, now);
    this.options = options;
  }

  probability({ k, maxProbability } = this.options): number {
    return rejectionProbability(this.#requests.sum(), this.#accepts.sum(), k, maxProbability);
  }

  record(accepted: boolean): void {
    this.#requests.add();
    if (accepted) this.#accepts.add();
  }

  reject(): void {
    this.#requests.add();
    this.rejected++;
  }

  snapshot(): { requests: number; accepts: number; probability: number; rejected: number } {
    const probability = Math.round(this.probability() * 1_000) / 1_000;
    return { requests: this.#requests.sum(), accepts: this.#accepts.sum(), probability, rejected: this.rejected };
  }
}
