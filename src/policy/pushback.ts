/**
 * Server pushback, one origin's: a 429 or 503 with `Retry-After` from any call pauses the retries of
 * every call to that origin until then. First attempts are not held back (they are how the client
 * learns the host is back); only retries wait. Pure: the clock is injected; the origin's state
 * record (pipeline/host-state.ts) holds one.
 */
import type { Clock } from './budget.js';
import { parseRetryAfter } from './retry-after.js';

/** Statuses whose `Retry-After` pauses the whole origin (RFC 9110 §10.2.3: 503 and 429 use it for overload). */
export const PUSHBACK_STATUSES: ReadonlySet<number> = new Set([429, 503]);

export class Pushback {
  #until = -Infinity;
  #status = 0;
  readonly #now: Clock;

  constructor(now: Clock = () => performance.now()) {
    this.#now = now;
  }

  /**
   * Reads a response's `Retry-After` and extends the pause, capped at `cap` ms.
   * Returns the pause in milliseconds when the response set or extended one, otherwise undefined.
   */
  observe(response: Response, cap: number): number | undefined {
    if (!PUSHBACK_STATUSES.has(response.status)) return undefined;
    const retryAfter = parseRetryAfter(response.headers.get('retry-after'));
    if (retryAfter === undefined || retryAfter <= 0) return undefined;
    const ms = Math.min(retryAfter, cap);
    const until = this.#now() + ms;
    if (this.#until >= until) return undefined;
    this.#until = until;
    this.#status = response.status;
    return ms;
  }

  /** Milliseconds retries must still wait (0 when not paused). */
  remaining(): number {
    return Math.max(0, this.#until - this.#now());
  }

  /** For stats(): the pause left, and the status that set it; undefined if never paused. */
  describe(): { pausedFor: number; status: number } | undefined {
    if (this.#status === 0) return undefined;
    return { pausedFor: Math.ceil(this.remaining()), status: this.#status };
  }
}
