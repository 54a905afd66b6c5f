/**
 * Outlier ejection, one upstream's (Envoy's `outlier_detection`): consecutive failed attempts, and
 * the ejection they lead to. Pure: the clock is injected; the upstream's state record holds one, and
 * the upstream layer asks it before choosing the upstream and tells it each attempt's outcome.
 *
 * - `consecutiveFailures` failed attempts in a row (a 5xx, a reset, an attempt timeout) eject; a
 *   refused connection ejects at once (nothing listens: Envoy's connect failures, taken as
 *   conclusive). Any other answer resets the count.
 * - The n-th ejection lasts `baseEjectionTime × n`, at most `maxEjectionTime`; n falls back by one
 *   for every `EJECTION_DECAY_MS` without an ejection (Envoy decrements it per interval).
 * - Whether an ejection may happen now (`maxEjectionPercent`) is the caller's to decide: it knows
 *   the other upstreams. `eject` is only called when it may.
 */
import type { ResolvedOutlierDetection } from '../options.js';
import type { Clock } from './budget.js';

/** Milliseconds without an ejection after which the ejection multiplier falls by one (Envoy's interval). */
export const EJECTION_DECAY_MS = 10_000;

/** What an attempt's outcome says about the upstream. */
export type AttemptVerdict = 'success' | 'failure' | 'refused';

export class OutlierState {
  /** Failed attempts in a row. */
  consecutive = 0;
  /** Ejections so far, decayed (the next one lasts `base × (ejections + 1)`). */
  #ejections = 0;
  /** `now()` the current (or last) ejection ends. */
  #until = -Infinity;
  /** `now()` of the last ejection's start, for the decay. */
  #lastEjection = -Infinity;
  /** Ejections since the state was made. */
  total = 0;
  readonly #now: Clock;

  constructor(now: Clock = () => performance.now()) {
    this.#now = now;
  }

  /** True while ejected. */
  ejected(): boolean {
    return this.#now() < this.#until;
  }

  /** Milliseconds of ejection left (0 when not ejected). */
  remaining(): number {
    return Math.max(0, this.#until - this.#now());
  }

  /**
   * Records an attempt's outcome. Returns true when it calls for an ejection (the caller then
   * checks the cap and calls `eject`).
   */
  record(verdict: AttemptVerdict, options: ResolvedOutlierDetection): boolean {
    if (verdict === 'success') {
      this.consecutive = 0;
      return false;
    }
    this.consecutive++;
    return verdict === 'refused' || this.consecutive >= options.consecutiveFailures;
  }

  /** Ejects now; returns the ejection's length in milliseconds. */
  eject(options: ResolvedOutlierDetection): number {
    const now = this.#now();
    const decayed = Math.floor((now - this.#lastEjection) / EJECTION_DECAY_MS);
    this.#ejections = Math.max(0, this.#ejections - (Number.isFinite(decayed) ? decayed : this.#ejections)) + 1;
    const ms = Math.min(options.maxEjectionTime, options.baseEjectionTime * this.#ejections);
    this.#until = now + ms;
    this.#lastEjection = now;
    this.consecutive = 0;
    this.total++;
    return ms;
  }

  /** For stats(). */
  snapshot(): { ejected: boolean; ejectedFor: number; ejections: number; consecutiveFailures: number } {
    return {
      ejected: this.ejected(),
      ejectedFor: Math.ceil(this.remaining()),
      ejections: this.total,
      consecutiveFailures: this.consecutive,
    };
  }
}
