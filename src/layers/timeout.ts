/**
 * Attempt timeout: each send (retry or hedge branch) gets `timeout.attempt` ms to its response
 * headers. Sits right above the transport, so the breaker counts a timeout as a failure.
 */
import { linkedController } from '../internal/abort.js';
import type { Layer, LayerContext } from './layer.js';

const ATTEMPT_TIMEOUT = Symbol.for('resilient-fetch.attempt-timeout');

/** The abort reason of an attempt that ran out of time: a `TimeoutError` DOMException, branded. */
export const attemptTimeoutError = (ms: number): DOMException => {
  const error = new DOMException(`Attempt timed out after ${ms} ms`, 'TimeoutError');
  Object.defineProperty(error, ATTEMPT_TIMEOUT, { value: true });
  return error;
};

export const isAttemptTimeout = (error: unknown): boolean =>
  typeof error === 'object' && error !== null && ATTEMPT_TIMEOUT in error;

export const createTimeoutLayer =
  (context: LayerContext): Layer =>
  (next) =>
  async (attempt) => {
    context.counters.get(attempt.url.origin).attempts++;
    const ms = attempt.request.policy.timeout.attempt;
    if (ms === false) return next(attempt);
    const linked = linkedController(attempt.signal, attempt.request.callerSignal === true);
    const timer = setTimeout(() => linked.abort(attemptTimeoutError(ms)), ms);
    try {
      return await next({ ...attempt, signal: linked.signal });
    } finally {
      clearTimeout(timer);
      linked.release();
    }
  };
