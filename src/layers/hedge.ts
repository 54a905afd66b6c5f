/**
 * Hedge layer ("The Tail at Scale"; gRPC `hedgingPolicy`): the primary branch starts; if no
 * acceptable response has arrived after `delay`, a clone starts (branch 1, ... up to `maxHedges`),
 * each with its own AbortController linked to the attempt's signal. The first acceptable response
 * wins and every other branch is aborted, its response body (if any) cancelled. A retryable failure (a 503, a reset) of one branch
 * leaves the race to the branches still pending; a non-retryable answer (a 404) wins at once. When
 * every branch started has failed, the last failure goes up to the retry layer.
 *
 * Hedges are sent only for replayable calls whose method is in `hedge.methods` and, unless the
 * method is idempotent (RFC 9110), that carry an `Idempotency-Key`; and only while the host's hedge
 * budget (`hedge.budget`: a share of calls over a sliding window, the retry budget's shape) has tokens left. `'auto'` delays learn the host's latency
 * percentile from a bounded window of its latest times to headers.
 */
import type { RatioBudget } from '../policy/budget.js';
import type { HostState } from '../pipeline/host-state.js';
import { linkedController, type Linked } from '../internal/abort.js';
import { discard } from '../internal/discard.js';
import type { LatencyWindow } from '../policy/latency-window.js';
import type { ResolvedHedge, ResolvedPolicy } from '../options.js';
import type { Attempt, Layer, LayerContext, PreparedRequest, Send } from '../pipeline/types.js';

/** Samples needed before the learned percentile is used; until then the delay is `max`. */
export const MIN_SAMPLES = 20;

/** RFC 9110 idempotent methods: hedged when listed in `hedge.methods`. Others also need an Idempotency-Key. */
const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

const HEDGE_LOST = Symbol.for('resilient-fetch.hedge-lost');

/**
 * The abort reason given to the branches that lost a race. Never reaches the caller. An `AbortError`
 * DOMException, as an abort without a reason gets: tracing (OpenTelemetry's undici instrumentation)
 * ends an aborted request's span without marking it an error, and a lost race is no error.
 */
const hedgeLostError = (): DOMException => {
  const error = new DOMException('resilient-fetch: another hedge branch answered first', 'AbortError');
  Object.defineProperty(error, HEDGE_LOST, { value: true });
  return error;
};

/** Whether a call may be hedged at all: replayable, method allowed, and idempotent or keyed. */
export const isHedgeable = (request: PreparedRequest, hedge: ResolvedHedge): boolean => {
  if (!request.replayable || request.stream !== null) return false;
  const method = request.method.toUpperCase();
  if (!hedge.methods.has(method)) return false;
  return IDEMPOTENT.has(method) || request.headers.some(([name]) => name === 'idempotency-key');
};

/** A response that ends the race: one the retry layer would not retry (status < 500 with retry off). */
export const isAcceptable = (policy: ResolvedPolicy, response: Response): boolean =>
  policy.retry ? !policy.retry.statusCodes.has(response.status) : response.status < 500;

/** The delay before each hedge: fixed, or the learned percentile clamped to [min, max] (`max` until MIN_SAMPLES). */
export const hedgeDelay = (delay: ResolvedHedge['delay'], window: LatencyWindow | undefined): number => {
  if (typeof delay === 'number') return delay;
  const learned = window && window.size >= MIN_SAMPLES ? window.percentile(delay.percentile) : undefined;
  if (learned === undefined) return delay.max;
  return Math.min(delay.max, Math.max(delay.min, learned));
};

type Branch = { readonly index: number; readonly link: Linked; readonly start: number; settled: boolean };

type RaceSetup = {
  readonly next: Send;
  readonly attempt: Attempt;
  readonly hedge: ResolvedHedge;
  readonly state: HostState;
  readonly budget: RatioBudget | undefined;
  readonly context: LayerContext;
};

/** Runs one attempt as a race of branches; see the file comment. */
const race = ({ next, attempt, hedge, state, budget, context }: RaceSetup): Promise<Response> =>
  new Promise<Response>((resolve, reject) => {
    const host = attempt.url.origin;
    const { policy } = attempt.request;
    const wait = hedgeDelay(hedge.delay, state.latency);
    const start = performance.now();
    const branches: Branch[] = [];
    let pending = 0;
    let done = false;
    let failure: { response: Response } | { error: unknown } | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;

    /** Ends the race: no more hedges, no listener left on the caller's signal, unsettled branches aborted. */
    const finish = (reason: unknown): void => {
      done = true;
      clearTimeout(timer);
      attempt.signal?.removeEventListener('abort', onAbort);
      const now = performance.now();
      for (const branch of branches) {
        if (branch.settled) continue;
        // A loser cut off at `now` took at least that long: keep it in the window, or the slow tail
        // that hedging hides would vanish from the percentile and 'auto' would hedge more and more.
        if (reason !== undefined) state.latency.record(now - branch.start);
        branch.link.abort(reason ?? attempt.signal?.reason);
      }
      // Without a caller's signal nothing can abort a branch after the race: drop the links.
      // (With one, they stay, so the caller's abort still errors the winner's body being read.)
      for (const branch of branches) branch.link.release();
      if (failure && 'response' in failure) discard(failure.response);
    };

    const onAbort = (): void => {
      if (done) return;
      finish(undefined);
      reject(attempt.signal?.reason);
    };

    const win = (branch: Branch, response: Response): void => {
      state.latency.record(performance.now() - branch.start);
      finish(hedgeLostError());
      if (branches.length > 1) {
        if (branch.index > 0) state.hedgeWins++;
        context.emit({ type: 'hedge-win', host, branch: branch.index, elapsed: Math.round(performance.now() - start) });
      }
      resolve(response);
    };

    /** Every branch started has failed: the last failure goes up to the retry layer. */
    const lose = (): void => {
      const last = failure;
      failure = undefined;
      finish(undefined);
      if (last && 'response' in last) resolve(last.response);
      else reject(last?.error);
    };

    const fail = (outcome: { response: Response } | { error: unknown }): void => {
      if (failure && 'response' in failure) discard(failure.response);
      failure = outcome;
      if (pending === 0) lose();
    };

    const launch = (index: number): void => {
      const link = linkedController(attempt.signal, attempt.request.callerSignal === true);
      const branch: Branch = { index, link, start: performance.now(), settled: false };
      branches.push(branch);
      pending++;
      let sent: Promise<Response>;
      try {
        sent = next({ ...attempt, branch: index, signal: link.signal });
      } catch (error) {
        sent = Promise.reject(error);
      }
      sent.then(
        (response) => {
          branch.settled = true;
          pending--;
          if (done) return discard(response);
          if (isAcceptable(policy, response)) return win(branch, response);
          fail({ response });
        },
        (error: unknown) => {
          branch.settled = true;
          pending--;
          if (done) return;
          if (attempt.signal?.aborted) return onAbort();
          fail({ error });
        },
      );
    };

    const schedule = (index: number): void => {
      if (index > hedge.maxHedges) return;
      timer = setTimeout(() => {
        timer = undefined;
        // No hedge onto a pool that is closing: the branches already out settle the race.
        if (done || context.closing?.aborted) return;
        if (budget && !budget.tryWithdraw()) {
          context.emit({ type: 'budget-exhausted', host, kind: 'hedge' });
          return;
        }
        state.hedges++;
        context.emit({ type: 'hedge', host, branch: index, after: Math.round(performance.now() - start) });
        launch(index);
        schedule(index + 1);
      }, wait);
    };

    if (attempt.signal?.aborted) {
      reject(attempt.signal.reason);
      return;
    }
    attempt.signal?.addEventListener('abort', onAbort, { once: true });
    launch(0);
    if (!done) schedule(1);
  });

export const createHedgeLayer =
  (context: LayerContext): Layer =>
  (next) =>
  (attempt) => {
    const { request } = attempt;
    const hedge = request.policy.hedge;
    if (!hedge || !isHedgeable(request, hedge)) return next(attempt);
    const state = context.hosts.get(attempt.url.origin);
    state.hedged = true;
    const budget = hedge.budget === false ? undefined : state.hedgeBudget(hedge.budget);
    budget?.deposit();
    return race({ next, attempt, hedge, state, budget, context });
  };
