/**
 * Adaptive client-side throttling (Google SRE book, "Handling Overload"): per origin, count the
 * requests sent and the requests the host accepted over a sliding window, and reject a request
 * locally, before the network, with probability max(0, (requests − k·accepts) / (requests + 1)),
 * capped at `maxProbability` (0.9) so that a share of calls always probes the host: without a cap the
 * probability nears 1 in an outage and falls back only as fast as accepts can double per window.
 *
 * - A request counts when its outcome is known (so a burst in flight on a healthy host does not
 *   look like refusals); a locally rejected request counts at once, as the SRE book counts it.
 * - Refused: a 429, 502, 503 or 504 response, a network error, an attempt timeout. Accepted: any
 *   other response (a 500 or a 404 was processed by the host).
 * - Not counted at all: an open breaker's `CircuitOpenError` (nothing was sent) and attempts aborted
 *   from above (the caller's abort, the total timeout, a losing hedge): they say nothing about the host.
 *
 * Sits below the upstream layer, so each upstream origin is throttled on its own, and above the
 * breaker. Off unless `throttle` is set.
 */
import { SlidingSum } from '../policy/budget.js';
import { ThrottledError, isCircuitOpenError } from '../errors.js';
import { HostRegistry } from '../pipeline/host-state.js';
import type { ResolvedThrottle } from '../options.js';
import type { Layer, LayerContext } from '../pipeline/types.js';
import { isTotalTimeout } from './timeout.js';

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

  constructor(options: ResolvedThrottle, now?: () => number) {
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

/**
 * @param random the random source for the rejection draw, in [0, 1); injectable for tests.
 */
export const createThrottleLayer = (context: LayerContext, random: () => number = Math.random): Layer => {
  // One state per origin, made with the window of the first call that needs it.
  const states = new HostRegistry<{ state?: ThrottleState }>(context.maxHosts, () => ({}));
  context.describe((origin) => {
    const state = states.peek(origin)?.state;
    return state ? { throttle: state.snapshot() } : undefined;
  });

  return (next) => async (attempt) => {
    const throttle = attempt.request.policy.throttle;
    if (!throttle) return next(attempt);
    const origin = attempt.url.origin;
    const slot = states.get(origin);
    const state = (slot.state ??= new ThrottleState(throttle));
    state.options = throttle;

    const probability = state.probability();
    if (probability > 0 && random() < probability) {
      state.reject();
      context.emit({ type: 'throttle', host: origin, probability });
      throw new ThrottledError(attempt.url.host, probability);
    }
    let response: Response;
    try {
      response = await next(attempt);
    } catch (error) {
      if (!isCircuitOpenError(error) && !attempt.signal?.aborted && !isTotalTimeout(error)) state.record(false);
      throw error;
    }
    state.record(!REFUSED_STATUSES.has(response.status));
    return response;
  };
};
