/**
 * Attempt timeout: each send (retry or hedge branch) gets `timeout.attempt` ms to its response
 * headers, and never more than is left of the call's deadline (its total timeout, or an enclosing
 * `runWithDeadline`'s). Sits right above the
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
    const ms = request.policy.timeout.attempt;
    // The call's deadline: its total timeout, or an enclosing runWithDeadline's (see client.ts).
    const bounded = request.deadline !== Infinity;
    if (ms === false && !bounded) return next(attempt);
    const limit = request.timeLimit ?? (request.policy.timeout.total || 0);
    const left = request.deadline - performance.now();
    if (bounded && left <= 0) throw totalTimeoutError(limit);
    // Whichever ends first: this attempt's time, or what is left of the call's.
    const timeout: AttemptTimeout =
      bounded && (ms === false || left < ms)
        ? { ms: left, reason: () => totalTimeoutError(limit) }
        : { ms: ms as number, reason: () => attemptTimeoutError(ms as number) };
    return next({ ...attempt, timeout });
  };
