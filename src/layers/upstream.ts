/**
 * Upstream layer: when the policy names `upstreams`, each attempt goes to one of them, with the
 * caller's path and query. A call starts at a per-host rotating index (round robin); its retries and
 * hedges move on by `attempt.number + attempt.branch`, so they land on the next upstream. Upstreams
 * whose breaker refuses calls are skipped (asked through their state record's `OriginView`); if a
 * breaker opens under us, the next one is tried. When every upstream is refused, the call gets
 * `CircuitOpenError` (or the policy's `fallback`).
 */
import { CircuitOpenError, isCircuitOpenError } from '../errors.js';
import { answerOpen } from '../pipeline/fallback.js';
import type { Layer, LayerContext, PreparedRequest } from '../pipeline/types.js';

/** The caller's path and query on another origin. */
export const rewriteOrigin = (url: URL, origin: string): URL => {
  const target = new URL(origin);
  target.pathname = url.pathname;
  target.search = url.search;
  return target;
};

export const createUpstreamLayer = (context: LayerContext): Layer => {
  /** Each call's start index, fixed at its first attempt. */
  const starts = new WeakMap<PreparedRequest, number>();
  /** Normalised origins per (frozen, per-host cached) `upstreams` list. */
  const normalised = new WeakMap<readonly string[], readonly string[]>();
  const originsOf = (upstreams: readonly string[]): readonly string[] => {
    let origins = normalised.get(upstreams);
    if (!origins) {
      origins = upstreams.map((upstream) => new URL(upstream).origin);
      normalised.set(upstreams, origins);
    }
    return origins;
  };

  return (next) => async (attempt) => {
    const { request } = attempt;
    if (request.policy.upstreams.length === 0) return next(attempt);
    const origins = originsOf(request.policy.upstreams);
    const count = origins.length;

    let start = starts.get(request);
    if (start === undefined) {
      const host = context.hosts.get(request.url.origin);
      start = host.rotation;
      host.rotation = (host.rotation + 1) % count;
      starts.set(request, start);
    }

    let refused: CircuitOpenError | undefined;
    for (let i = 0; i < count; i++) {
      const origin = origins[(start + attempt.number + attempt.branch + i) % count] as string;
      if (context.hosts.peek(origin)?.isOpen()) continue;
      try {
        return await next({ ...attempt, url: rewriteOrigin(attempt.url, origin) });
      } catch (error) {
        if (!isCircuitOpenError(error)) throw error;
        refused = error; // its breaker refused in the meantime: move on to the next upstream
      }
    }
    const retryAfter = Math.min(...origins.map((origin) => context.hosts.peek(origin)?.reopensIn() ?? 0));
    const error = new CircuitOpenError(request.url.origin, retryAfter, refused && { cause: refused });
    return answerOpen(context, attempt, error);
  };
};
