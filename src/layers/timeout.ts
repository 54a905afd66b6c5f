/**
 * Attempt timeout: each send (retry or hedge branch) gets `timeout.attempt` ms to its response
 * headers, and never more than is left of the call's total timeout. Sits right above the
 * transport, so the breaker counts an attempt timeout as a failure (a total timeout it does not).
 */
import { linkedController } from '../internal/abort.js';
import type { Layer, LayerContext } from './layer.js';

const ATTEMPT_TIMEOUT = Symbol.for('resilient-fetch.attempt-timeout');
const TOTAL_TIMEOUT = Symbol.for('resilient-fetch.total-timeout');

/** The abort reason of an attempt that ran out of time: a `TimeoutError` DOMException, branded. */
export const attemptTimeoutError = (ms: number): DOMException => {
  const error = new DOMException(`Attempt timed out after ${ms} ms`, 'TimeoutError');
  Object.defineProperty(error, ATTEMPT_TIMEOUT, { value: true });
  return error;
};

export const isAttemptTimeout = (error: unknown): boolean =>
  typeof error === 'object' && error !== null && ATTEMPT_TIMEOUT in error;

/** The abort reason of a call that ran out of total time: a `TimeoutError` DOMException, branded. */
export const totalTimeoutError = (ms: number): DOMException => {
  const error = new DOMException(`The operation was aborted due to timeout (total ${ms} ms)`, 'TimeoutError');
  Object.defineProperty(error, TOTAL_TIMEOUT, { value: true });
  return error;
};

/** The call's total timeout: neither retried nor counted against the host. */
export const isTotalTimeout = (error: unknown): boolean =>
  typeof error === 'object' && error !== null && TOTAL_TIMEOUT in error;

export const createTimeoutLayer =
  (context: LayerContext): Layer =>
  (next) =>
  async (attempt) => {
    context.counters.get(attempt.url.origin).attempts++;
    const { request } = attempt;
    const { attempt: ms, total } = request.policy.timeout;
    const left = request.deadline - performance.now();
    if (ms === false && total === false) return next(attempt);
    if (total !== false && left <= 0) throw totalTimeoutError(total);
    // Whichever ends first: this attempt's time, or what is left of the call's.
    const byDeadline = total !== false && (ms === false || left < ms);
    const linked = linkedController(attempt.signal, request.callerSignal === true);
    const timer = byDeadline
      ? setTimeout(() => linked.abort(totalTimeoutError(total)), left)
      : setTimeout(() => linked.abort(attemptTimeoutError(ms as number)), ms as number);
    try {
      return await next({ ...attempt, signal: linked.signal });
    } finally {
      clearTimeout(timer);
      linked.release();
    }
  };
