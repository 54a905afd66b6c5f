/**
 * Server pushback: a 429 or 503 with `Retry-After` from any call pauses the retries of every call
 * to that origin until then. First attempts are not held back (they are how the client learns the
 * host is back); only retries wait. Per origin, in a bounded `HostRegistry`.
 */
import type { Clock } from './budget.js';
import { HostRegistry } from '../pipeline/host-state.js';
import { parseRetryAfter } from './retry-after.js';

/** Statuses whose `Retry-After` pauses the whole origin (RFC 9110 §10.2.3: 503 and 429 use it for overload). */
export const PUSHBACK_STATUSES: ReadonlySet<number> = new Set([429, 503]);

type Pause = { until: number; status: number };

export class Pushback {
  readonly #pauses: HostRegistry<Pause>;
  readonly #now: Clock;

  constructor(maxHosts: number, now: Clock = () => performance.now()) {
    this.#pauses = new HostRegistry(maxHosts, () => ({ until: -Infinity, status: 0 }));
    this.#now = now;
  }

  /**
   * Reads a response's `Retry-After` and extends the origin's pause, capped at `cap` ms.
   * Returns the pause in milliseconds when the response set or extended one, otherwise undefined.
   */
  observe(origin: string, response: Response, cap: number): number | undefined {
    if (!PUSHBACK_STATUSES.has(response.status)) return undefined;
    const retryAfter = parseRetryAfter(response.headers.get('retry-after'));
    if (retryAfter === undefined || retryAfter <= 0) return undefined;
    const ms = Math.min(retryAfter, cap);
    const until = this.#now() + ms;
    const existing = this.#pauses.peek(origin);
    if (existing && existing.until >= until) return undefined;
    const pause = this.#pauses.get(origin);
    pause.until = until;
    pause.status = response.status;
    return ms;
  }

  /** Milliseconds the origin's retries must still wait (0 when not paused). */
  remaining(origin: string): number {
    const pause = this.#pauses.peek(origin);
    return pause ? Math.max(0, pause.until - this.#now()) : 0;
  }

  /** For stats(): the pause left, and the status that set it; undefined if the origin was never paused. */
  describe(origin: string): { pausedFor: number; status: number } | undefined {
    const pause = this.#pauses.peek(origin);
    if (!pause) return undefined;
    return { pausedFor: Math.ceil(Math.max(0, pause.until - this.#now())), status: pause.status };
  }
}
