/**
 * Bulkhead layer: each attempt (first try, retry or hedge) takes a slot of its origin's bulkhead
 * (policy/bulkhead.ts) before it is sent, and gives it back at its response headers or its error.
 * Below the upstream layer, so the limit is per origin an attempt really goes to; above the
 * breaker, so a request refused here is never counted by it. A request that gets no slot rejects
 * with `BulkheadRejectedError`: the retry layer does not retry it on the same origin, the upstream
 * layer fails over to another upstream. A hedge never waits for a slot: it is sent now or not at all.
 *
 * With `maxConcurrent: 'auto'`, each answer teaches the limit: its time to response headers, or,
 * for a 429, a 503 or an attempt timeout, that the origin is overloaded.
 */
import { isAttemptTimeout, isBulkheadRejectedError, totalTimeoutError } from '../errors.js';
import type { Layer, LayerContext } from '../pipeline/types.js';
import type { Sample } from '../policy/bulkhead.js';

/** Answers that say the origin has more than it can take. */
const OVERLOAD_STATUSES: ReadonlySet<number> = new Set([429, 503]);

export const createBulkheadLayer =
  (context: LayerContext): Layer =>
  (next) =>
  async (attempt) => {
    const { request } = attempt;
    const settings = request.policy.bulkhead;
    if (!settings) return next(attempt);
    const origin = attempt.url.origin;
    const bulkhead = context.hosts.get(origin).bulkhead(settings);
    let release;
    try {
      const entry = bulkhead.enter({
        queue: attempt.branch === 0,
        signal: attempt.signal,
        closing: context.closing,
        deadline: request.deadline,
        deadlineError: () => totalTimeoutError(request.timeLimit ?? (request.policy.timeout.total || 0)),
      });
      release = typeof entry === 'function' ? entry : await entry;
    } catch (error) {
      if (isBulkheadRejectedError(error)) {
        context.emit({
          type: 'bulkhead-rejected',
          host: origin,
          ...(origin !== request.url.origin && { logicalHost: request.url.origin }),
          reason: error.reason,
          limit: error.limit,
          queued: bulkhead.queued,
        });
      }
      throw error;
    }
    const sent = performance.now();
    let sample: Sample;
    try {
      const response = await next(attempt);
      sample = { rtt: performance.now() - sent, drop: OVERLOAD_STATUSES.has(response.status) };
      return response;
    } catch (error) {
      // An attempt timeout is the origin not keeping up; anything else (an abort from above, a
      // refused connection, an open breaker) says nothing about how much it can take.
      if (isAttemptTimeout(error) && !attempt.signal?.aborted) sample = { rtt: performance.now() - sent, drop: true };
      throw error;
    } finally {
      release(sample);
    }
  };
