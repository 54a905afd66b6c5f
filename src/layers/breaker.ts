/**
 * Breaker layer: runs each attempt through its origin's circuit breaker (an opossum
 * `CircuitBreaker`, kept in the origin's state record; see pipeline/circuit.ts). Network failures
 * (policy/classify.ts), attempt timeouts and `failureStatusCodes` count as failures; a caller's (or a
 * losing hedge's) abort does not, nor does any other error (a programming error, a method fetch
 * forbids, a redirect loop), and 4xx are successes. A failure status travels through opossum
 * wrapped in `FailureStatus` and its Response is handed back to the layer above untouched. While
 * open (or half-open with its probe out) a call is answered without calling `next`:
 * `CircuitOpenError`, or the policy's `fallback`.
 */
import { CircuitOpenError, isAttemptTimeout, isTotalTimeout } from '../errors.js';
import type { ResolvedPolicy } from '../options.js';
import { FailureStatus, NotCounted, type Run } from '../pipeline/circuit.js';
import { answerOpen } from '../pipeline/fallback.js';
import type { Layer, LayerContext } from '../pipeline/types.js';
import { networkFailure } from '../policy/classify.js';

/** An error the host is to blame for: an attempt timeout, or a network failure (also by the policy's retry codes). */
const isHostFailure = (error: unknown, retry: ResolvedPolicy['retry']): boolean =>
  isAttemptTimeout(error) ||
  networkFailure(error) !== undefined ||
  (retry !== false && networkFailure(error, retry.errorCodes) !== undefined);

export const createBreakerLayer = (context: LayerContext): Layer => {
  return (next) => async (attempt) => {
    const settings = attempt.request.policy.breaker;
    if (!settings || context.closing?.aborted) return next(attempt);
    const circuit = context.hosts.get(attempt.url.origin).circuit(settings);
    const { breaker } = circuit;

    if (circuit.refusing) {
      // Counted in the rolling window's `rejects` by opossum's own listener, without counting a fire.
      const error = new CircuitOpenError(attempt.url.origin, circuit.retryAfter);
      breaker.emit('reject', error);
      // With upstreams, the layer above fails over to the next one, and answers when all are open.
      if (attempt.request.policy.upstreams.length > 0) throw error;
      return answerOpen(context, attempt, error);
    }

    const probe = breaker.halfOpen;
    const run: Run = async () => {
      let response: Response;
      try {
        response = await next(attempt);
      } catch (error) {
        // The attempt's own signal (above the timeout layer) aborted: the caller, the total timeout or
        // a hedge that lost; or the total timeout ran out in the timeout layer. Not the host's fault.
        // An aborted probe tells nothing: open again, probe later.
        if (attempt.signal?.aborted || isTotalTimeout(error)) {
          if (probe && breaker.halfOpen) breaker.open();
          throw new NotCounted(error);
        }
        if (!isHostFailure(error, attempt.request.policy.retry)) throw new NotCounted(error);
        throw error;
      }
      if (settings.failureStatusCodes.has(response.status)) throw new FailureStatus(response);
      return response;
    };

    try {
      return await breaker.fire(run);
    } catch (error) {
      if (error instanceof FailureStatus) return error.response;
      if (error instanceof NotCounted) throw error.error;
      throw error;
    }
  };
};
