/**
 * Attempt timeout: each send (retry or hedge branch) gets `timeout.attempt` ms to its response
 * headers, and never more than is left of the call's total timeout. Sits right above the
 * transport, so the breaker counts an attempt timeout as a failure (a total timeout it does not).
 * The layer only says how long (`Attempt.timeout`); the transport enforces it (see `AttemptTimeout`).
 */
import { attemptTimeoutError, totalTimeoutError } from '../errors.js';
import type { AttemptTimeout, Layer, LayerContext } from '../pipeline/types.js';

export const createTimeoutLayer =
  (context: LayerContext): Layer =>
  (next) =>
  async (attempt) => {
    context.hosts.get(attempt.url.origin).attempts++;
    const { request } = attempt;
    const { attempt: ms, total } = request.policy.timeout;
    if (ms === false && total === false) return next(attempt);
    const left = request.deadline - performance.now();
    if (total !== false && left <= 0) throw totalTimeoutError(total);
    // Whichever ends first: this attempt's time, or what is left of the call's.
    const timeout: AttemptTimeout =
      total !== false && (ms === false || left < ms)
        ? { ms: left, reason: () => totalTimeoutError(total) }
        : { ms: ms as number, reason: () => attemptTimeoutError(ms as number) };
    return next({ ...attempt, timeout });
  };
