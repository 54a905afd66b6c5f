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
import { ThrottledError, isCircuitOpenError, isTotalTimeout } from '../errors.js';
import type { Layer, LayerContext } from '../pipeline/types.js';
import { REFUSED_STATUSES } from '../policy/throttle.js';

/**
 * @param random the random source for the rejection draw, in [0, 1); injectable for tests.
 */
export const createThrottleLayer =
  (context: LayerContext, random: () => number = Math.random): Layer =>
  (next) =>
  async (attempt) => {
    const throttle = attempt.request.policy.throttle;
    if (!throttle) return next(attempt);
    const origin = attempt.url.origin;
    const state = context.hosts.get(origin).throttle(throttle);

    const probability = state.probability();
    if (probability > 0 && random() < probability) {
      state.reject();
      context.emit({ type: 'throttle', host: origin, probability });
      throw new ThrottledError(origin, probability);
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
