/**
 * createFetch: validates options once, builds the pipeline once, and per call prepares the request
 * (policy, buffered body, one call signal) and sends it through the layers. The one place the
 * pipeline is composed.
 */
import { setMaxListeners } from 'node:events';
import { DEFAULTS } from './defaults.js';
import { createEmitter } from './diagnostics.js';
import { HostStates } from './pipeline/host-state.js';
import { prepareRequest, type PrepareContext, type RequestInitWithPolicy } from './pipeline/prepare.js';
import { createBreakerLayer } from './layers/breaker.js';
import { createBulkheadLayer } from './layers/bulkhead.js';
import { createPropagateLayer } from './layers/propagate.js';
import { enclosingDeadline } from './deadline.js';
import { createHedgeLayer } from './layers/hedge.js';
import { compose, type Attempt, type LayerContext, type PreparedRequest } from './pipeline/types.js';
import { createRetryLayer } from './layers/retry.js';
import { createThrottleLayer } from './layers/throttle.js';
import { createTimeoutLayer } from './layers/timeout.js';
import { totalTimeoutError } from './errors.js';
import { createInjectedTransport, createUndiciTransport, sendThrough, type Transport } from './transport/index.js';
import { chooseDispatcher, createDispatcherTransport } from './transport/dispatcher.js';
import { handOver, mockedFetch, passage, registerClient, type Passage } from './internal/process-net.js';
import { createUpstreamLayer } from './layers/upstream.js';
import type { ResilientFetchOptions, ResilientRequestInit, ResolvedPolicy } from './options.js';
import { createPolicyResolver } from './resolve-policy.js';
import { createCallTracer } from './tracing.js';
import { validateOptions } from './validate.js';

/** One origin's counters, as `stats()` reports them. */
export type HostCounters = {
  /** Calls whose first attempt went to this origin. */
  readonly calls: number;
  /** Requests sent (first attempts, retries and hedges). */
  readonly attempts: number;
  readonly retries: number;
  /** Calls that ended in a rejection (network error, timeout, open breaker). */
  readonly failures: number;
};

/**
 * Per-origin counters and layer state, as plain JSON: the counters below, plus what each layer adds
 * once it has used the origin (`breaker`, `retryBudget`, `pushback`, `hedges`, `hedgeWins`,
 * `hedgeBudget`, `latency`, `throttle`; see README). Read from each origin's state record.
 */
export type FetchStats = { hosts: Record<string, HostCounters & { readonly [layer: string]: unknown }> };

/** What `createFetch` returns: fetch's signature, plus `stats()` and `close()`. */
export type ResilientFetch = {
  (input: string | URL | Request, init?: ResilientRequestInit): Promise<Response>;
  /** Per-host counters and breaker states, a plain JSON object. */
  stats(): FetchStats;
  /**
   * Ends every pending call's back-off at once (the call settles with its last response or error, as
   * when its retries run out), then closes breakers' timers and the connection pool. Calls made
   * afterwards reject.
   */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
};

/**
 * A call's deadline: its total timeout, or an enclosing `runWithDeadline`'s when that ends first
 * (`at` as `performance.now()`, `ms` from now, rounded for the timeout error). Undefined: none.
 */
const deadlineOf = (policy: ResolvedPolicy): { at: number; ms: number } | undefined => {
  const total = policy.timeout.total;
  const enclosing = enclosingDeadline();
  if (enclosing === undefined) return total === false ? undefined : { at: performance.now() + total, ms: total };
  const now = performance.now();
  if (total !== false && now + total <= enclosing) return { at: now + total, ms: total };
  return { at: enclosing, ms: Math.max(0, Math.round(enclosing - now)) };
};

/** Creates a resilient `fetch`. Throws a TypeError or RangeError naming the field for invalid options. */
export const createFetch = (options?: ResilientFetchOptions): ResilientFetch => {
  const valid = validateOptions(options);
  const maxHosts = valid.maxHosts ?? DEFAULTS.maxHosts;
  const resolve = createPolicyResolver(valid, maxHosts);
  // One listener per call sleeping in a back-off: any number of them is expected, not a leak.
  const closing = new AbortController();
  setMaxListeners(0, closing.signal);
  const emit = createEmitter(valid.onEvent);
  // The one place per-origin state is kept: every layer's, in one record per origin.
  const hosts = new HostStates(maxHosts, emit);
  /** What runs when a call ends (see LayerContext.onCallEnd). */
  const callEnds = new WeakMap<object, Array<() => void>>();
  const context: LayerContext = {
    emit,
    hosts,
    closing: closing.signal,
    onCallEnd: (request, end) => {
      const ends = callEnds.get(request);
      if (ends) ends.push(end);
      else callEnds.set(request, [end]);
    },
  };
  const endCall = (request: object): void => {
    const ends = callEnds.get(request);
    if (!ends) return;
    callEnds.delete(request);
    for (const end of ends) end();
  };
  // The network transport: the client's own pool, its `dispatcher` option, or the process-wide one.
  const network = (): Transport =>
    (valid.transport ?? DEFAULTS.transport) === 'undici-fetch'
      ? createUndiciTransport({}, (own) => {
          const choose = chooseDispatcher(own, valid.dispatcher);
          return () => choose().dispatcher;
        })
      : createDispatcherTransport({}, valid.dispatcher);
  let direct: Transport | undefined = valid.fetch ? undefined : network();
  const transport = valid.fetch ? createInjectedTransport(valid.fetch) : (direct as Transport);
  /** Sends where Node's fetch would: through a mock that replaced globalThis.fetch, else on the network. */
  const throughMock = sendThrough((input, init) => {
    const mock = mockedFetch();
    return mock ? handOver(() => mock(input, init), true) : Promise.reject(new Error('resilient-fetch: the mock went away'));
  });
  const bottom: typeof transport.send = valid.fetch
    ? (attempt) => handOver(() => transport.send(attempt), false, fetch)
    : valid.dispatcher
      ? transport.send
      : (attempt) => (passage.getStore() === undefined && mockedFetch() ? throughMock(attempt) : transport.send(attempt));
  // retry → hedge → upstream (which origin) → throttle → bulkhead → breaker (per origin)
  //   → propagate (deadline and attempt headers) → attempt timeout → transport
  const send = compose(
    createRetryLayer(context),
    createHedgeLayer(context),
    createUpstreamLayer(context),
    createThrottleLayer(context),
    createBulkheadLayer(context),
    createBreakerLayer(context),
    createPropagateLayer(context),
    createTimeoutLayer(context),
  )(bottom);
  // Undefined unless @opentelemetry/api is installed: then a call span groups the call's attempts.
  const traceCall = createCallTracer();

  let closed: Promise<void> | undefined;

  // Named `fetch`, with `init` defaulted so `length` is 1: code that inspects the function sees fetch's.
  async function fetch(input: string | URL | Request, init: ResilientRequestInit | undefined = undefined) {
    if (closed) throw new TypeError('resilient-fetch: this client is closed');
    const handed = passage.getStore();
    // A mock (or this client's own injected fetch) calling back for a pass-through: no second round
    // of layers, and never back into the mock.
    if (handed && (handed.mock || handed.clients.has(fetch))) return passThrough(input, init, handed);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const prepare: PrepareContext = {
      resolve,
      signal: (caller, policy: ResolvedPolicy, readsStream) => {
        const limit = deadlineOf(policy);
        // A body read from a stream is read under a signal: one that never aborts when nothing can.
        if (!limit) return { signal: caller ?? (readsStream ? new AbortController().signal : undefined), deadline: Infinity };
        // No caller's signal and no stream to read: the layers keep the deadline (see PreparedRequest.signal).
        if (!caller && !readsStream) return { signal: undefined, deadline: limit.at, timeLimit: limit.ms };
        const controller = new AbortController();
        timer = setTimeout(() => controller.abort(totalTimeoutError(limit.ms)), limit.at - performance.now());
        return {
          signal: caller ? AbortSignal.any([caller, controller.signal]) : controller.signal,
          deadline: limit.at,
          timeLimit: limit.ms,
        };
      },
    };
    let origin: string | undefined;
    let request: PreparedRequest | undefined;
    try {
      request = await prepareRequest(input, init as RequestInitWithPolicy | undefined, prepare);
      request.signal?.throwIfAborted();
      origin = request.url.origin;
      hosts.get(origin).calls++;
      const attempt: Attempt = { request, url: request.url, signal: request.signal, number: 0, branch: 0 };
      return await (traceCall ? traceCall(request.method, request.url, () => send(attempt)) : send(attempt));
    } catch (error) {
      if (origin !== undefined) hosts.get(origin).failures++;
      throw error;
    } finally {
      clearTimeout(timer);
      if (request) endCall(request);
    }
  }

  /** A call handed back: through the mock under an installed client when there is one, else straight to the network. */
  async function passThrough(input: string | URL | Request, init: ResilientRequestInit | undefined, handed: Passage) {
    const mock = handed.mock ? undefined : mockedFetch();
    if (mock) return handOver(() => mock(input, init as RequestInit), true);
    direct ??= network();
    const network_ = direct;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const request = await prepareRequest(input, init as RequestInitWithPolicy | undefined, {
      resolve,
      signal: (caller, policy, readsStream) => {
        const limit = deadlineOf(policy);
        if (!limit) return { signal: caller ?? (readsStream ? new AbortController().signal : undefined), deadline: Infinity };
        const controller = new AbortController();
        timer = setTimeout(() => controller.abort(totalTimeoutError(limit.ms)), limit.at - performance.now());
        return {
          signal: caller ? AbortSignal.any([caller, controller.signal]) : controller.signal,
          deadline: limit.at,
          timeLimit: limit.ms,
        };
      },
    });
    try {
      return await network_.send({ request, url: request.url, signal: request.signal, number: 0, branch: 0 });
    } finally {
      clearTimeout(timer);
    }
  }

  const close = (): Promise<void> => {
    closed ??= (async () => {
      // First, so that calls sleeping in a back-off settle now instead of waking up to a closed pool.
      closing.abort(new TypeError('resilient-fetch: this client is closed'));
      hosts.clear();
      await transport.close();
      if (direct && direct !== transport) await direct.close();
    })();
    return closed;
  };

  const stats = (): FetchStats => {
    const out: FetchStats['hosts'] = {};
    for (const [origin, state] of hosts.entries()) out[origin] = state.snapshot() as FetchStats['hosts'][string];
    return { hosts: out };
  };

  registerClient(fetch);
  return Object.assign(fetch, { stats, close, [Symbol.asyncDispose]: close }) as ResilientFetch;
};
