/**
 * Our own failures. Network failures stay fetch's `TypeError`, aborts stay `signal.reason`;
 * these classes are only for what fetch has no word for.
 */

const BRAND = Symbol.for('resilient-fetch.error');

/** Base class of every error resilient-fetch creates itself. */
export class ResilientFetchError extends Error {
  /** A stable machine-readable code, such as `ERR_CIRCUIT_OPEN`. */
  readonly code: string;
  /** The origin (`scheme://host:port`, as every event's `host`) the call or attempt was for. */
  readonly host: string;

  constructor(message: string, code: string, host: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ResilientFetchError';
    this.code = code;
    this.host = host;
    Object.defineProperty(this, BRAND, { value: code });
  }
}

/** The host's circuit breaker is open: the call was not sent. */
export class CircuitOpenError extends ResilientFetchError {
  /** Milliseconds until the breaker lets a half-open probe through. */
  readonly retryAfter: number;

  constructor(host: string, retryAfter: number, options?: { cause?: unknown }) {
    super(
      `Circuit for ${host} is open; next probe in ${Math.max(0, Math.round(retryAfter))} ms`,
      'ERR_CIRCUIT_OPEN',
      host,
      options,
    );
    this.name = 'CircuitOpenError';
    this.retryAfter = Math.max(0, retryAfter);
  }
}

/** Adaptive throttling rejected the call locally, before the network. */
export class ThrottledError extends ResilientFetchError {
  /** Probability with which calls to this host are being rejected now (0..1). */
  readonly probability: number;

  constructor(host: string, probability: number) {
    super(`Call to ${host} throttled locally (rejecting ${(probability * 100).toFixed(1)} % of calls)`, 'ERR_THROTTLED', host);
    this.name = 'ThrottledError';
    this.probability = probability;
  }
}

/** The origin's bulkhead had no slot: the request was not sent. */
export class BulkheadRejectedError extends ResilientFetchError {
  /** `'queue full'`: no slot and no room to wait; `'queue timeout'`: waited `queueTimeout` ms for a slot. */
  readonly reason: 'queue full' | 'queue timeout';
  /** The origin's concurrency limit when the request was rejected (the learned one with `'auto'`). */
  readonly limit: number;

  constructor(host: string, reason: 'queue full' | 'queue timeout', limit: number) {
    super(`Bulkhead for ${host} rejected the request (${reason}; limit ${limit} in flight)`, 'ERR_BULKHEAD_FULL', host);
    this.name = 'BulkheadRejectedError';
    this.reason = reason;
    this.limit = limit;
  }
}

// ---- Abort reasons of our timeouts: fetch's `TimeoutError` DOMException, branded so that the layers
// can tell an attempt's timeout (retried, a host failure) from the call's total timeout (neither).

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

const hasCode = (error: unknown, code: string): boolean =>
  typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[BRAND] === code;

/** True for a `CircuitOpenError` from any copy of this package. */
export const isCircuitOpenError = (error: unknown): error is CircuitOpenError => hasCode(error, 'ERR_CIRCUIT_OPEN');

/** True for a `ThrottledError` from any copy of this package. */
export const isThrottledError = (error: unknown): error is ThrottledError => hasCode(error, 'ERR_THROTTLED');

/** True for a `BulkheadRejectedError` from any copy of this package. */
export const isBulkheadRejectedError = (error: unknown): error is BulkheadRejectedError => hasCode(error, 'ERR_BULKHEAD_FULL');

/** True for any error created by resilient-fetch. */
export const isResilientFetchError = (error: unknown): error is ResilientFetchError =>
  typeof error === 'object' && error !== null && BRAND in error;
