/**
 * Attempt timeout: each send (retry or hedge branch) gets `timeout.attempt` ms to its response
 * headers, and never more than is left of the call's total timeout. Sits right above the
 * transport, so the breaker counts an attempt timeout as a failure (a total timeout it does not).
 * The layer only says how long (`Attempt.timeout`); the transport enforces it (see `AttemptTimeout`).
 */
import { linkedController } from '../internal/abort.js';
import type { AttemptTimeout, Layer, LayerContext, Send } from '../pipeline/types.js';

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
export const isTotalTimeout = (error: unknown): boolean => typeof error === 'object' && error !== null && TOTAL_TIMEOUT in error;

export const createTimeoutLayer =
  (context: LayerContext): Layer =>
  (next) =>
  async (attempt) => {
    context.counters.get(attempt.url.origin).attempts++;
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

/**
 * For a transport that can only be stopped through a signal (undici's fetch, a user's `fetch`):
 * enforces `Attempt.timeout` by aborting a child of the attempt's signal, and sends the attempt
 * with that signal and without the timeout.
 */
export const signalTimeout =
  (send: Send): Send =>
  async (attempt) => {
    if (!attempt.timeout) {
      // fetch adds an abort listener per call to the signal it is given, kept until the request is
      // collected: a caller's signal shared by many calls would collect one per call. A dependent
      // signal takes them instead (AbortSignal.any links without a listener on the caller's).
      if (attempt.signal && attempt.request.callerSignal) return send({ ...attempt, signal: AbortSignal.any([attempt.signal]) });
      return send(attempt);
    }
    const { timeout, ...rest } = attempt;
    const linked = linkedController(attempt.signal, attempt.request.callerSignal === true);
    const timer = setTimeout(() => linked.abort(timeout.reason()), timeout.ms);
    try {
      return await send({ ...rest, signal: linked.signal });
    } finally {
      clearTimeout(timer);
      linked.release();
    }
  };
