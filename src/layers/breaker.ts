/**
 * Breaker layer: one opossum `CircuitBreaker` per origin (`scheme://host:port`), created on first
 * use with the policy in force at that moment, kept in a bounded least-recently-used registry (an
 * evicted breaker is shut down). Network failures (classify.ts), attempt timeouts and
 * `failureStatusCodes` count as failures; a caller's (or a losing hedge's) abort does not, nor does
 * any other error (a programming error, a method fetch forbids, a redirect loop), and 4xx are successes. A failure status
 * travels through opossum wrapped in `FailureStatus` and its Response is handed back to the layer
 * above untouched. While open (or half-open with its probe out) a call is answered without calling
 * `next`: `CircuitOpenError`, or the policy's `fallback`.
 */
import CircuitBreaker from 'opossum';
import { networkFailure } from '../policy/classify.js';
import { CircuitOpenError } from '../errors.js';
import { HostRegistry } from '../pipeline/host-state.js';
import type { ResolvedBreaker, ResolvedPolicy } from '../options.js';
import type { Attempt, Layer, LayerContext, PreparedRequest } from '../pipeline/types.js';
import { isAttemptTimeout, isTotalTimeout } from './timeout.js';

type State = 'closed' | 'open' | 'half-open';

/** What opossum runs: the rest of the pipeline for one attempt. */
type Run = () => Promise<Response>;

/** A response whose status counts as a failure, on its way through opossum. Never reaches the caller. */
class FailureStatus extends Error {
  constructor(readonly response: Response) {
    super(`status ${response.status}`);
  }
}

/**
 * An outcome that is no failure of the host (the attempt was aborted from above, or the error is no
 * network failure). opossum counts it as a success. Never reaches the caller.
 */
class NotCounted extends Error {
  constructor(readonly error: unknown) {
    super('not a failure of the host');
  }
}

/** An error the host is to blame for: an attempt timeout, or a network failure (also by the policy's retry codes). */
const isHostFailure = (error: unknown, retry: ResolvedPolicy['retry']): boolean =>
  isAttemptTimeout(error) ||
  networkFailure(error) !== undefined ||
  (retry !== false && networkFailure(error, retry.errorCodes) !== undefined);

/** One origin's breaker and what we track beside it. */
class Circuit {
  state: State = 'closed';
  /** `Date.now()` when it last opened. */
  openedAt = 0;
  readonly breaker: CircuitBreaker<[Run], Response>;
  readonly resetTimeout: number;

  constructor(origin: string, settings: ResolvedBreaker, onTransition: (from: State, to: State) => void) {
    this.resetTimeout = settings.resetTimeout;
    // A fresh object per breaker: opossum writes its defaults (and caches, controllers) into it.
    this.breaker = new CircuitBreaker<[Run], Response>((run) => run(), {
      name: origin,
      errorThresholdPercentage: settings.errorThresholdPercentage,
      volumeThreshold: settings.volumeThreshold,
      resetTimeout: settings.resetTimeout,
      rollingCountTimeout: settings.rollingCountTimeout,
      rollingCountBuckets: settings.rollingCountBuckets,
      // Attempt timeouts are ours (timeout layer, below): opossum's own timer would not cancel the work.
      timeout: false,
      // No snapshot interval, and no latency arrays sorted on every failure: we do not read them.
      enableSnapshots: false,
      rollingPercentilesEnabled: false,
      errorFilter: (error: unknown) => error instanceof NotCounted,
    });
    // opossum unrefs its bucket interval and reset timer itself (opossum 9, lib/status.js and lib/circuit.js).
    const move = (to: State) => () => {
      const from = this.state;
      if (from === to) return;
      this.state = to;
      if (to === 'open') this.openedAt = Date.now();
      onTransition(from, to);
    };
    this.breaker.on('open', move('open'));
    this.breaker.on('halfOpen', move('half-open'));
    this.breaker.on('close', move('closed'));
  }

  /** True when a call would be refused now: open, or half-open with its one probe already out. */
  get refusing(): boolean {
    return this.breaker.opened || (this.breaker.halfOpen && !this.breaker.pendingClose);
  }

  /** Milliseconds until a probe may go out (0 while half-open: the probe's outcome decides). */
  get retryAfter(): number {
    return this.breaker.opened ? Math.max(0, this.openedAt + this.resetTimeout - Date.now()) : 0;
  }

  /** Called by the registry on eviction and on `close()`: clears opossum's interval and timer. */
  close(): void {
    this.breaker.shutdown();
  }
}

/** The caller's request as a global `Request`, for `fallback`. A body that was streamed is left out. */
const toRequest = (request: PreparedRequest): Request => {
  const bodyless = request.method === 'GET' || request.method === 'HEAD';
  return new Request(request.url, {
    method: request.method,
    headers: request.headers as Array<[string, string]>,
    body: bodyless ? null : request.body,
    signal: request.signal ?? null,
  });
};

/**
 * The answer for a call that the breaker(s) refuse: the policy's `fallback(request, error)` if it
 * has one (emitting `fallback`), else the `CircuitOpenError`. Used by the upstream layer as well.
 */
export const answerOpen = async (context: LayerContext, attempt: Attempt, error: CircuitOpenError): Promise<Response> => {
  const settings = attempt.request.policy.breaker;
  const fallback = settings ? settings.fallback : undefined;
  if (!fallback) throw error;
  context.emit({ type: 'fallback', host: attempt.url.origin, reason: error.code });
  return fallback(toRequest(attempt.request), error);
};

export const createBreakerLayer = (context: LayerContext): Layer => {
  let closed = false;
  // HostRegistry creates from the key alone; the settings of the call that creates it ride along here.
  let creating: ResolvedBreaker | undefined;
  const circuits = new HostRegistry<Circuit>(context.maxHosts, (origin) => {
    const settings = creating as ResolvedBreaker;
    return new Circuit(origin, settings, (from, to) => context.emit({ type: 'breaker', host: origin, from, to }));
  });
  const circuitFor = (origin: string, settings: ResolvedBreaker): Circuit => {
    creating = settings;
    try {
      return circuits.get(origin);
    } finally {
      creating = undefined;
    }
  };

  context.breakers = {
    isOpen: (origin) => circuits.peek(origin)?.refusing ?? false,
    retryAfter: (origin) => circuits.peek(origin)?.retryAfter ?? 0,
  };
  context.describe((origin) => {
    const circuit = circuits.peek(origin);
    if (!circuit) return undefined;
    const { fires, successes, failures, rejects } = circuit.breaker.stats;
    return {
      breaker: {
        state: circuit.state,
        fires,
        successes,
        failures,
        rejects,
        ...(circuit.state === 'open' && { retryAfter: Math.round(circuit.retryAfter) }),
      },
    };
  });
  context.onClose(() => {
    closed = true;
    circuits.clear();
  });

  return (next) => async (attempt) => {
    const settings = attempt.request.policy.breaker;
    if (!settings || closed) return next(attempt);
    const circuit = circuitFor(attempt.url.origin, settings);
    const { breaker } = circuit;

    if (circuit.refusing) {
      // Counted in the rolling window's `rejects` by opossum's own listener, without counting a fire.
      const error = new CircuitOpenError(attempt.url.host, circuit.retryAfter);
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
