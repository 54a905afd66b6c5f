/**
 * Breaker layer: gates each attempt with its origin's circuit breaker (an opossum `CircuitBreaker`
 * in the origin's state record; see pipeline/circuit.ts), and counts **calls, not attempts**: when a
 * call ends, each origin it sent to is told one outcome, that origin's last counted answer in the
 * call. So a host that answers 503 and then 200 to every call never fails a call and never opens; a
 * host in an outage fails calls and opens after `volumeThreshold` of them.
 *
 * What counts: network failures (policy/classify.ts), attempt timeouts and `failureStatusCodes`
 * are failures; any other response (4xx included) is a success. Not counted at all: an attempt cut
 * off from above (the caller's abort, the total timeout, a hedge branch that lost) and any other
 * error (a programming error, a method fetch forbids, a redirect loop): they say nothing about the
 * host. While open (or half-open with its probe out) an attempt is answered without calling `next`:
 * `CircuitOpenError`, or the policy's `fallback`.
 */
import { CircuitOpenError, isAttemptTimeout, isTotalTimeout } from '../errors.js';
import type { ResolvedPolicy } from '../options.js';
import type { Circuit } from '../pipeline/circuit.js';
import { answerOpen } from '../pipeline/fallback.js';
import type { Layer, LayerContext, PreparedRequest } from '../pipeline/types.js';
import { networkFailure } from '../policy/classify.js';

/** An error the host is to blame for: an attempt timeout, or a network failure (also by the policy's retry codes). */
const isHostFailure = (error: unknown, retry: ResolvedPolicy['retry']): boolean =>
  isAttemptTimeout(error) ||
  networkFailure(error) !== undefined ||
  (retry !== false && networkFailure(error, retry.errorCodes) !== undefined);

type Outcome = 'success' | 'failure' | undefined;

export const createBreakerLayer = (context: LayerContext): Layer => {
  /** Per call: each circuit it sent to, with its last counted outcome there. */
  const calls = new WeakMap<PreparedRequest, Map<Circuit, Outcome>>();

  /** Keeps an attempt's outcome as the call's latest at this circuit; the call's end commits them. */
  const note = (request: PreparedRequest, circuit: Circuit, outcome: Outcome): void => {
    let touched = calls.get(request);
    if (!touched) {
      const map = new Map<Circuit, Outcome>();
      touched = map;
      calls.set(request, map);
      context.onCallEnd(request, () => {
        for (const [c, last] of map) c.commit(request, last);
      });
    }
    if (outcome !== undefined || !touched.has(circuit)) touched.set(circuit, outcome);
  };

  return (next) => async (attempt) => {
    const { request } = attempt;
    const settings = request.policy.breaker;
    if (!settings || context.closing?.aborted) return next(attempt);
    const circuit = context.hosts.get(attempt.url.origin).circuit(settings);

    if (circuit.refuses(request)) {
      // Counted in the rolling window's `rejects` by opossum's own listener, without counting a fire.
      const error = new CircuitOpenError(attempt.url.origin, circuit.retryAfter);
      circuit.breaker.emit('reject', error);
      // With upstreams, the layer above fails over to the next one, and answers when all are open.
      if (request.policy.upstreams.length > 0) throw error;
      return answerOpen(context, attempt, error);
    }

    let outcome: Outcome;
    try {
      const response = await next(attempt);
      outcome = settings.failureStatusCodes.has(response.status) ? 'failure' : 'success';
      return response;
    } catch (error) {
      // The attempt's own signal aborted (the caller, the total timeout, a losing hedge), or the total
      // timeout ran out below: not the host's doing.
      const cutOff = attempt.signal?.aborted === true || isTotalTimeout(error);
      outcome = !cutOff && isHostFailure(error, request.policy.retry) ? 'failure' : undefined;
      throw error;
    } finally {
      note(request, circuit, outcome);
    }
  };
};
