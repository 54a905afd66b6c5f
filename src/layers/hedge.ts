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
 * budget (a share of calls over 10 s) has tokens left. `'auto'` delays learn the host's latency
 * percentile from a bounded window of its latest times to headers.
 */
import { RatioBudget } from '../policy/budget.js';
import { HostRegistry } from '../pipeline/host-state.js';
import { linkedController, type Linked } from '../internal/abort.js';
import { discard } from '../internal/delay.js';
import { LatencyWindow } from '../policy/latency-window.js';
import type { ResolvedHedge, ResolvedPolicy } from '../options.js';
import type { Attempt, HostCounters, Layer, LayerContext, PreparedRequest, Send } from '../pipeline/types.js';

/** Latest samples kept per host for the `'auto'` delay. */
export const LATENCY_SAMPLES = 1_000;
/** Samples needed before the learned percentile is used; until then the delay is `max`. */
export const MIN_SAMPLES = 20;
/** The hedge budget's sliding window, in milliseconds (as the retry budget's). */
export const HEDGE_BUDGET_WINDOW = 10_000;
/**
 * Hedges always allowed per second per host, whatever the ratio: a reserve of 10 per 10 s window.
 * Without it a host would need 10 calls (at ratio 0.1) before its first hedge, and a host called
 * once every few seconds could never hedge; with it, a busy host's extra load stays at the ratio
 * (10 tokens are 0.5 % of 2,000 calls).
 */
export const HEDGE_BUDGET_MIN_PER_SECOND = 1;

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

/** True for the abort reason of a losing hedge branch (layers below may see it; not a host failure). */
export const isHedgeLost = (error: unknown): boolean => typeof error === 'object' && error !== null && HEDGE_LOST in error;

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

/**
 * One host's hedging state: its latency window and its budget. The budget is made once; a call whose
 * ratio differs applies its ratio to it (calls and hedges in the window kept), never a new budget.
 */
class HostHedgeState {
  readonly window = new LatencyWindow(LATENCY_SAMPLES);
  #budget: RatioBudget | undefined;

  /** The host's budget, at `ratio` from now on; undefined for `budget: false`. */
  budget(ratio: number | false): RatioBudget | undefined {
    if (ratio === false) return undefined;
    if (this.#budget === undefined) {
      this.#budget = new RatioBudget({ ratio, minPerSecond: HEDGE_BUDGET_MIN_PER_SECOND, window: HEDGE_BUDGET_WINDOW });
    } else this.#budget.setRatio(ratio);
    return this.#budget;
  }

  describe(): Record<string, unknown> {
    const latency: Record<string, number> = { samples: this.window.size };
    for (const p of [50, 95, 99]) {
      const value = this.window.percentile(p);
      if (value !== undefined) latency[`p${p}`] = Math.round(value * 10) / 10;
    }
    // Named like the retry layer's `retryBudget`; absent with `budget: false`.
    return { ...(this.#budget && { hedgeBudget: this.#budget.snapshot() }), latency };
  }
}

type Branch = { readonly index: number; readonly link: Linked; readonly start: number; settled: boolean };

type RaceSetup = {
  readonly next: Send;
  readonly attempt: Attempt;
  readonly hedge: ResolvedHedge;
  readonly state: HostHedgeState;
  readonly budget: RatioBudget | undefined;
  readonly counters: HostCounters;
  readonly context: LayerContext;
};

/** Runs one attempt as a race of branches; see the file comment. */
const race = ({ next, attempt, hedge, state, budget, counters, context }: RaceSetup): Promise<Response> =>
  new Promise<Response>((resolve, reject) => {
    const host = attempt.url.origin;
    const { policy } = attempt.request;
    const wait = hedgeDelay(hedge.delay, state.window);
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
        if (reason !== undefined) state.window.record(now - branch.start);
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
      state.window.record(performance.now() - branch.start);
      finish(hedgeLostError());
      if (branches.length > 1) {
        if (branch.index > 0) counters.hedgeWins = (counters.hedgeWins ?? 0) + 1;
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
        counters.hedges = (counters.hedges ?? 0) + 1;
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

export const createHedgeLayer = (context: LayerContext): Layer => {
  const states = new HostRegistry(context.maxHosts, () => new HostHedgeState());
  context.describe((origin) => states.peek(origin)?.describe());

  return (next) => (attempt) => {
    const { request } = attempt;
    const hedge = request.policy.hedge;
    if (!hedge || !isHedgeable(request, hedge)) return next(attempt);
    const origin = attempt.url.origin;
    const state = states.get(origin);
    const budget = state.budget(hedge.budget);
    budget?.deposit();
    const counters = context.counters.get(origin);
    counters.hedges ??= 0;
    counters.hedgeWins ??= 0;
    return race({ next, attempt, hedge, state, budget, counters, context });
  };
};
