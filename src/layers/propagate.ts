/**
 * Propagation layer: what the next service should know about an attempt, as headers (policy fields
 * `deadlineHeader` and `attemptHeader`, both off by default). Right above the timeout layer, so it
 * sees only attempts that are really sent (not those an open breaker or a full bulkhead refused),
 * at the moment they are sent:
 * - the deadline header: whole milliseconds left of the call's deadline (its total timeout, or an
 *   enclosing `runWithDeadline`'s), as gRPC's `grpc-timeout` and Envoy's
 *   `x-envoy-expected-rq-timeout-ms`; a call with no deadline sends none;
 * - the attempt header: the attempt's 1-based number in its call, retries and hedges counted in
 *   the order they are sent (Envoy's `x-envoy-attempt-count`).
 */
import type { Layer, LayerContext, PreparedRequest } from '../pipeline/types.js';

export const createPropagateLayer = (_context: LayerContext): Layer => {
  /** Attempts sent so far, per call. */
  const sent = new WeakMap<PreparedRequest, number>();
  return (next) => (attempt) => {
    const { request } = attempt;
    const { deadlineHeader, attemptHeader } = request.policy;
    if (deadlineHeader === false && attemptHeader === false) return next(attempt);
    const headers: Array<readonly [string, string]> = [...(attempt.headers ?? [])];
    if (attemptHeader !== false) {
      const number = (sent.get(request) ?? 0) + 1;
      sent.set(request, number);
      headers.push([attemptHeader, String(number)]);
    }
    if (deadlineHeader !== false && request.deadline !== Infinity) {
      headers.push([deadlineHeader, String(Math.max(0, Math.floor(request.deadline - performance.now())))]);
    }
    return next({ ...attempt, headers });
  };
};
