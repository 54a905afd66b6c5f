/**
 * Upstream layer: when the policy names `upstreams`, each attempt goes to one of them, with the
 * caller's path and query, as a load balancer would send it (Envoy's cluster, Finagle, Linkerd):
 *
 * - **Which ones may take it.** Not one whose breaker refuses calls (asked through its state
 *   record's `OriginView`), nor one refused by its breaker during this attempt. Among those, by
 *   preference: not ejected (outlier detection, below), not paused by its `Retry-After`, and not yet
 *   tried by this call (Envoy's `previous_hosts`: a retry or a hedge goes elsewhere). The
 *   preferences are dropped in the reverse order when nothing is left (an ejected upstream is still
 *   better than none: Envoy's panic mode).
 * - **Which one.** `balance: 'least-request'` (default): of two upstreams drawn at random, the one
 *   with fewer requests in flight (power of two choices; Envoy `LEAST_REQUEST`, Finagle, Linkerd).
 *   `'round-robin'`: a per-host rotation, a call's attempts moving on from its start.
 * - **Outlier ejection.** Each attempt's outcome goes to the upstream's record: a refused
 *   connection ejects it at once, `consecutiveFailures` failures in a row (a 5xx, a reset, an attempt
 *   timeout) do too; ejections grow with repeats, and no more than `maxEjectionPercent` of the
 *   upstreams (and never all) are out at once. Aborted attempts say nothing and are not counted.
 *
 * Each response or error handed up is marked with the upstream's URL (pipeline/route.ts), so the
 * retry layer reports where an attempt went. An upstream whose bulkhead has no slot for the attempt
 * is passed over like one whose breaker refuses. When every upstream's breaker refuses, the call gets
 * `CircuitOpenError` (or the policy's `fallback`); when the ones left all had full bulkheads, their
 * `BulkheadRejectedError`.
 */
import {
  CircuitOpenError,
  isAttemptTimeout,
  isBulkheadRejectedError,
  isCircuitOpenError,
  isTotalTimeout,
  type BulkheadRejectedError,
} from '../errors.js';
import type { ResolvedOutlierDetection, ResolvedPolicy } from '../options.js';
import { answerOpen } from '../pipeline/fallback.js';
import type { HostState } from '../pipeline/host-state.js';
import { markRoute, upstreamOrigins } from '../pipeline/route.js';
import type { Attempt, Layer, LayerContext, PreparedRequest } from '../pipeline/types.js';
import { BEFORE_SEND_CODES, networkFailure } from '../policy/classify.js';
import type { AttemptVerdict } from '../policy/outlier.js';

/** The caller's path and query on another origin. */
export const rewriteOrigin = (url: URL, origin: string): URL => {
  const target = new URL(origin);
  target.pathname = url.pathname;
  target.search = url.search;
  return target;
};

/** What an attempt's error says about the upstream; undefined when nothing (aborted from above, not the network's). */
const verdictOf = (error: unknown, attempt: Attempt, policy: ResolvedPolicy): AttemptVerdict | undefined => {
  if (attempt.signal?.aborted || isTotalTimeout(error)) return undefined;
  if (isAttemptTimeout(error)) return 'failure';
  const code = networkFailure(error) ?? (policy.retry ? networkFailure(error, policy.retry.errorCodes) : undefined);
  if (code === undefined) return undefined;
  return BEFORE_SEND_CODES.has(code) ? 'refused' : 'failure';
};

/** Per call: the upstreams it has sent to, and its round-robin start. */
type CallRoute = { readonly tried: Set<string>; start: number | undefined };

export const createUpstreamLayer = (context: LayerContext, random: () => number = Math.random): Layer => {
  const calls = new WeakMap<PreparedRequest, CallRoute>();

  /** Picks the upstream for an attempt, or undefined when every one's breaker refuses. */
  const choose = (
    origins: readonly string[],
    route: CallRoute,
    refused: ReadonlySet<string>,
    request: PreparedRequest,
  ): string | undefined => {
    const open = origins.filter((origin) => !refused.has(origin) && !context.hosts.peek(origin)?.isOpen());
    if (open.length === 0) return undefined;
    const healthy = open.filter((origin) => !context.hosts.peek(origin)?.outlier.ejected());
    const unpaused = healthy.filter((origin) => !(context.hosts.peek(origin)?.pushback.remaining() ?? 0));
    const fresh = unpaused.filter((origin) => !route.tried.has(origin));
    const candidates = [fresh, unpaused, healthy, open].find((list) => list.length > 0) as string[];
    if (candidates.length === 1) return candidates[0];
    if (request.policy.balance === 'round-robin') {
      if (route.start === undefined) {
        const logical = context.hosts.get(request.url.origin);
        route.start = logical.rotation;
        logical.rotation = (logical.rotation + 1) % origins.length;
      }
      for (let i = 0; i < origins.length; i++) {
        const origin = origins[(route.start + route.tried.size + i) % origins.length] as string;
        if (candidates.includes(origin)) return origin;
      }
    }
    // Power of two choices on requests in flight.
    const first = Math.floor(random() * candidates.length);
    let second = Math.floor(random() * (candidates.length - 1));
    if (second >= first) second++;
    const a = candidates[first] as string;
    const b = candidates[second] as string;
    return (context.hosts.peek(b)?.inFlight ?? 0) < (context.hosts.peek(a)?.inFlight ?? 0) ? b : a;
  };

  /** Tells the upstream's record an attempt's outcome, ejecting it when that calls for it and the cap allows. */
  const judge = (
    state: HostState,
    verdict: AttemptVerdict | undefined,
    origins: readonly string[],
    outlier: ResolvedOutlierDetection | false,
    logicalHost: string,
  ): void => {
    if (!outlier || verdict === undefined || !state.outlier.record(verdict, outlier)) return;
    if (state.outlier.ejected()) return;
    let ejected = 0;
    for (const origin of origins) if (context.hosts.peek(origin)?.outlier.ejected()) ejected++;
    const cap = Math.max(1, Math.floor((origins.length * outlier.maxEjectionPercent) / 100));
    if (ejected + 1 > cap || ejected + 1 >= origins.length) return;
    const duration = state.outlier.eject(outlier);
    context.emit({
      type: 'ejection',
      host: state.origin,
      logicalHost,
      duration,
      ejections: state.outlier.total,
      reason: verdict === 'refused' ? 'refused' : 'consecutive failures',
    });
  };

  return (next) => async (attempt) => {
    const { request } = attempt;
    const { policy } = request;
    if (policy.upstreams.length === 0) return next(attempt);
    const origins = upstreamOrigins(policy.upstreams);
    let route = calls.get(request);
    if (!route) {
      route = { tried: new Set(), start: undefined };
      calls.set(request, route);
    }

    const refusedHere = new Set<string>();
    let refused: CircuitOpenError | undefined;
    let full: BulkheadRejectedError | undefined;
    for (;;) {
      const origin = choose(origins, route, refusedHere, request);
      if (origin === undefined) break;
      route.tried.add(origin);
      const state = context.hosts.get(origin);
      state.upstream = true;
      const url = rewriteOrigin(attempt.url, origin);
      state.inFlight++;
      let response: Response;
      try {
        response = await next({ ...attempt, url });
      } catch (error) {
        state.inFlight--;
        if (isCircuitOpenError(error)) {
          refused = error; // its breaker refused in the meantime: move on to the next upstream
          refusedHere.add(origin);
          continue;
        }
        if (isBulkheadRejectedError(error)) {
          full = error; // no slot there: the next upstream may have one
          refusedHere.add(origin);
          continue;
        }
        judge(state, verdictOf(error, attempt, policy), origins, policy.outlierDetection, request.url.origin);
        throw markRoute(error, url);
      }
      state.inFlight--;
      judge(state, response.status >= 500 ? 'failure' : 'success', origins, policy.outlierDetection, request.url.origin);
      return markRoute(response, url);
    }
    // Every upstream left was full (none refused by its breaker): the call gets the bulkhead's error.
    if (full && !refused && origins.every((origin) => refusedHere.has(origin) || context.hosts.peek(origin)?.isOpen()))
      throw full;
    const retryAfter = Math.min(...origins.map((origin) => context.hosts.peek(origin)?.reopensIn() ?? 0));
    const error = new CircuitOpenError(request.url.origin, retryAfter, refused && { cause: refused });
    return answerOpen(context, attempt, error);
  };
};
