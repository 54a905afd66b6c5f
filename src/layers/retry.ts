/**
 * Retry layer on p-retry. p-retry runs the loop, counts retries and stops on the caller's abort;
 * the decision (idempotency, statuses, error codes, Retry-After, deadline, `shouldRetry`) and the
 * jittered, abortable sleep are ours, made in p-retry's `shouldRetry` hook (p-retry's own delay has
 * no full or decorrelated jitter and no Retry-After, and its sleep can only end by rejecting, where
 * a closing client must hand the caller its last answer: see README, "Dependencies"). Outcomes travel
 * through p-retry wrapped in `Outcome`, so p-retry's own TypeError heuristics never see them and the
 * caller only ever gets the original Response or error.
 *
 * Two things keep retries from amplifying an outage without costing a call a retry would save:
 * - the origin's retry budget (`RatioBudget`): every call deposits; a retry spends before it sleeps,
 *   and one the budget cannot pay for is not made. A call that ends in success gives back what its
 *   retries spent, and the retry of a request that was never sent (refused connection, DNS failure,
 *   connect timeout) spends nothing, so only retries that fail are capped: an outage stays at about
 *   `1 + ratio` requests per call, a flaky host keeps its retries.
 * - server pushback: a 429/503 with `Retry-After` from any call holds back the retries of every call
 *   to the origin that sent it until then (first attempts are not held back). With `upstreams` that
 *   is the upstream: the retry goes to another one at once, and waits only when every one is paused.
 */
import pRetry from 'p-retry';
import { backoffDelay } from '../policy/backoff.js';
import { BEFORE_SEND_CODES, errorCodes, networkFailure } from '../policy/classify.js';
import { DEFAULTS } from '../defaults.js';
import { isResilientFetchError } from '../errors.js';
import { delay } from '../internal/delay.js';
import { discard } from '../internal/discard.js';
import type { ResolvedRetry } from '../options.js';
import type { Spending } from '../policy/budget.js';
import { routeOf, upstreamOrigins } from '../pipeline/route.js';
import { parseRetryAfter } from '../policy/retry-after.js';
import type { Attempt, Layer, LayerContext, PreparedRequest } from '../pipeline/types.js';
import { isAttemptTimeout, isTotalTimeout, totalTimeoutError } from '../errors.js';

/** Why an outcome is (not) retried. `unsent`: the request never left the client (a retry of it costs the host nothing). */
type Verdict = { retryable: boolean; reason: string; unsent?: boolean };

/** An attempt's result on its way through p-retry. Never reaches the caller. */
class Outcome extends Error {
  constructor(
    readonly attempt: Attempt,
    readonly verdict: Verdict,
    readonly response?: Response,
    readonly error?: unknown,
  ) {
    super(verdict.reason);
  }
}

const methodAllowed = (request: PreparedRequest, retry: ResolvedRetry): boolean =>
  retry.methods.has(request.method.toUpperCase()) || request.headers.some(([name]) => name === 'idempotency-key');

/** The built-in decision for a response. */
export const judgeResponse = (request: PreparedRequest, retry: ResolvedRetry, response: Response): Verdict => {
  const reason = `status ${response.status}`;
  if (!retry.statusCodes.has(response.status)) return { retryable: false, reason };
  if (!methodAllowed(request, retry)) return { retryable: false, reason: `${reason}, ${request.method} not idempotent` };
  return { retryable: true, reason };
};

/** The built-in decision for an error. */
export const judgeError = (request: PreparedRequest, retry: ResolvedRetry, error: unknown): Verdict => {
  if (isAttemptTimeout(error)) {
    return methodAllowed(request, retry)
      ? { retryable: true, reason: 'attempt timeout' }
      : { retryable: false, reason: `attempt timeout, ${request.method} not idempotent` };
  }
  // Our own failures (an open breaker, throttling) are not retried on the same origin.
  if (isResilientFetchError(error)) return { retryable: false, reason: error.code };
  // Fetch throws a TypeError for much that is no network failure (a forbidden method, a redirect
  // loop, `redirect: 'error'`; an injected fetch's bugs): only a network failure is retried.
  const code = networkFailure(error, retry.errorCodes);
  if (code === undefined) return { retryable: false, reason: errorCodes(error)[0] ?? String((error as Error)?.name ?? error) };
  const unsent = BEFORE_SEND_CODES.has(code);
  if (methodAllowed(request, retry) || unsent) return { retryable: true, reason: code, unsent };
  return { retryable: false, reason: `${code}, ${request.method} not idempotent` };
};

/** Bounds the re-checks of a pause that other calls keep extending while this one sleeps. */
const MAX_PAUSE_CHECKS = 100;

export const createRetryLayer = (context: LayerContext): Layer => {
  return (next) => async (first) => {
    const { request } = first;
    const retry = request.policy.retry;
    const origin = first.url.origin;
    const host = context.hosts.get(origin);
    const budget = retry && retry.budget ? host.retryBudget(retry.budget) : undefined;
    budget?.deposit();
    const upstreams = request.policy.upstreams.length > 0 ? upstreamOrigins(request.policy.upstreams) : undefined;
    /** Where an outcome came from, and the caller's origin beside it when that is elsewhere (an upstream). */
    const where = (outcome: unknown, attempt: Attempt) => {
      const url = routeOf(outcome, attempt.url);
      return { url, host: url.origin, ...(url.origin !== origin && { logicalHost: origin }) };
    };

    /** Sends, and lets a 429/503 with Retry-After pause the retries to the origin that sent it. */
    const send = async (attempt: Attempt): Promise<Response> => {
      const response = await next(attempt);
      const from = where(response, attempt);
      const pushback = from.host === origin ? host.pushback : context.hosts.get(from.host).pushback;
      const paused = pushback.observe(response, retry ? retry.maxRetryAfter : DEFAULTS.retry.maxRetryAfter);
      if (paused !== undefined) {
        context.emit({
          type: 'pushback',
          host: from.host,
          ...(from.logicalHost && { logicalHost: from.logicalHost }),
          until: Date.now() + Math.round(paused),
          status: response.status,
        });
      }
      return response;
    };
    /**
     * Milliseconds the call's next retry must wait for pushback: its origin's pause, or with
     * upstreams the shortest pause among them (the upstream layer picks one that is not paused).
     */
    const paused = (): number => {
      if (!upstreams) return host.pushback.remaining();
      let least = Infinity;
      for (const upstream of upstreams) least = Math.min(least, context.hosts.peek(upstream)?.pushback.remaining() ?? 0);
      return least === Infinity ? 0 : least;
    };
    /** What the call's failed retries were charged; given back if the call ends in success. */
    const spent: Spending[] = [];
    /** A retry that failed as the host's failure (not a request that was never sent) is charged to the budget. */
    const chargeFailed = (verdict: Verdict): void => {
      if (budget && verdict.retryable && !verdict.unsent) spent.push(budget.charge());
    };
    if (!retry || retry.limit === 0 || !request.replayable) return send(first);

    let previousDelay = 0;

    const run = async (attemptNumber: number): Promise<Response> => {
      const attempt: Attempt = attemptNumber === 1 ? first : { ...first, number: attemptNumber - 1 };
      let response: Response;
      try {
        response = await send(attempt);
      } catch (error) {
        if (request.signal?.aborted)
          throw new Outcome(attempt, { retryable: false, reason: 'aborted' }, undefined, request.signal.reason);
        if (isTotalTimeout(error)) throw new Outcome(attempt, { retryable: false, reason: 'aborted' }, undefined, error);
        const verdict = judgeError(request, retry, error);
        if (attemptNumber > 1) chargeFailed(verdict);
        throw new Outcome(attempt, verdict, undefined, error);
      }
      const verdict = judgeResponse(request, retry, response);
      if (attemptNumber > 1) chargeFailed(verdict);
      // A `shouldRetry` hook gets a say on every non-2xx response, not only the retryable ones.
      if (verdict.retryable || (retry.shouldRetry && !response.ok)) throw new Outcome(attempt, verdict, response);
      return response;
    };

    /**
     * Decides, and when retrying, sleeps. Resolves false to hand the last outcome to the caller.
     * When it throws (the caller's `shouldRetry` or `backoff`, the caller's abort during the sleep,
     * the total timeout), that goes to the caller instead, and the response it judged is released.
     */
    const shouldRetry = async (retryContext: { error: Error }): Promise<boolean> => {
      try {
        return await decide(retryContext);
      } catch (error) {
        const { response } = retryContext.error as Outcome;
        if (response) discard(response);
        throw error;
      }
    };

    const decide = async ({ error }: { error: Error }): Promise<boolean> => {
      const outcome = error as Outcome;
      let retryable = outcome.verdict.retryable;
      if (outcome.verdict.reason === 'aborted') return false;
      if (context.closing?.aborted) return giveUp(outcome, 'client closed');
      const from = where(outcome.response ?? outcome.error, outcome.attempt);
      if (retry.shouldRetry) {
        const said = await retry.shouldRetry({
          url: from.url.href,
          requestUrl: request.url.href,
          method: request.method,
          attempt: outcome.attempt.number + 1,
          retryable,
          ...(outcome.response && { response: outcome.response }),
          ...(outcome.error !== undefined && { error: outcome.error }),
        });
        if (said !== undefined) retryable = said;
      }
      if (!retryable) return false;

      const retryNumber = outcome.attempt.number + 1;
      const unsent = outcome.verdict.unsent === true;
      // Failing over from an instance that was never reached: no reason to wait.
      let wait = upstreams && unsent ? 0 : backoffDelay(retry.backoff, retryNumber, previousDelay);
      const retryAfter = parseRetryAfter(outcome.response?.headers.get('retry-after'));
      // With upstreams the Retry-After paused that upstream only (see `paused`): the retry goes to another.
      if (retryAfter !== undefined && !upstreams) {
        if (retryAfter > retry.maxRetryAfter) return giveUp(outcome, `Retry-After ${retryAfter} ms > maxRetryAfter`);
        wait = retryAfter;
      }
      wait = Math.max(wait, paused());
      if (performance.now() + wait >= request.deadline) return giveUp(outcome, 'total timeout would pass during back-off');
      if (budget && !unsent && !budget.allows()) {
        context.emit({ type: 'budget-exhausted', host: origin, kind: 'retry' });
        return giveUp(outcome, 'retry budget exhausted');
      }

      previousDelay = wait;
      host.retries++;
      context.emit({
        type: 'retry',
        host: from.host,
        ...(from.logicalHost && { logicalHost: from.logicalHost }),
        attempt: retryNumber,
        resendCount: retryNumber,
        delay: Math.round(wait),
        reason: outcome.verdict.reason,
      });
      // The last response is kept through the sleep: if the client closes meanwhile, the retrying
      // stops and the caller gets it, body intact, as when the retries run out.
      let slept: boolean;
      try {
        slept = await backOff(wait);
      } catch (error) {
        if (outcome.response) discard(outcome.response);
        throw error;
      }
      if (!slept) return giveUp(outcome, 'client closed');
      if (outcome.response) discard(outcome.response);
      return true;
    };

    /**
     * Sleeps `wait` ms, then for as long as another call has extended the origin's pause meanwhile.
     * Resolves false the moment the client closes. The total timeout still applies: a pause that now
     * ends past it fails the call at once with the total timeout's error; the caller's abort rejects
     * the sleep.
     */
    const backOff = async (wait: number): Promise<boolean> => {
      if (wait > 0 && !(await delay(wait, request.signal, context.closing))) return false;
      for (let check = 0, rest = paused(); rest > 0 && check < MAX_PAUSE_CHECKS; check++) {
        if (performance.now() + rest >= request.deadline)
          throw totalTimeoutError(request.timeLimit ?? (request.policy.timeout.total || 0));
        if (!(await delay(Math.ceil(rest), request.signal, context.closing))) return false;
        rest = paused();
      }
      return true;
    };

    const giveUp = (outcome: Outcome, why: string): false => {
      const from = where(outcome.response ?? outcome.error, outcome.attempt);
      context.emit({
        type: 'give-up',
        host: from.host,
        ...(from.logicalHost && { logicalHost: from.logicalHost }),
        attempt: outcome.attempt.number + 1,
        resendCount: outcome.attempt.number,
        reason: outcome.verdict.reason,
        why,
      });
      return false;
    };

    // Fast path: most first attempts succeed, and need none of p-retry's machinery. A failed first
    // attempt enters the p-retry loop as its attempt 1 (replayed, not re-sent).
    let firstOutcome: Outcome;
    try {
      return await run(1);
    } catch (error) {
      if (!(error instanceof Outcome)) throw error;
      firstOutcome = error;
    }
    const loop = (attemptNumber: number) => (attemptNumber === 1 ? Promise.reject(firstOutcome) : run(attemptNumber));

    let response: Response;
    try {
      response = await pRetry(loop, {
        retries: retry.limit,
        minTimeout: 0,
        maxTimeout: 0,
        factor: 1,
        signal: request.signal,
        shouldRetry,
      });
    } catch (error) {
      if (!(error instanceof Outcome)) throw error; // the caller's abort or total timeout: signal.reason
      if (!error.response) throw error.error;
      response = error.response;
    }
    // The retries saved the call: what the failed ones were charged goes back (a retried 503 handed over as the last answer did not).
    if (budget && spent.length > 0 && !retry.statusCodes.has(response.status))
      for (const spending of spent) budget.refund(spending);
    return response;
  };
};
