/**
 * createFetch: validates options once, builds the pipeline once, and per call prepares the request
 * (policy, buffered body, one call signal) and sends it through the layers. The one place the
 * pipeline is composed.
 */
import { setMaxListeners } from 'node:events';
import { DEFAULTS } from './defaults.js';
import { createEmitter } from './diagnostics.js';
import { HostRegistry } from './host-state.js';
import { prepareRequest, type PrepareContext, type RequestInitWithPolicy } from './layers/buffer-body.js';
import { createBreakerLayer } from './layers/breaker.js';
import { createDispatcherTransport } from './layers/dispatcher-transport.js';
import { createHedgeLayer } from './layers/hedge.js';
import { compose, type Attempt, type HostCounters, type LayerContext } from './layers/layer.js';
import { createRetryLayer } from './layers/retry.js';
import { createThrottleLayer } from './layers/throttle.js';
import { createTimeoutLayer, totalTimeoutError } from './layers/timeout.js';
import { createInjectedTransport, createUndiciTransport } from './layers/transport.js';
import { createUpstreamLayer } from './layers/upstream.js';
import type { ResilientFetchOptions, ResilientRequestInit, ResolvedPolicy } from './options.js';
import { createPolicyResolver } from './resolve-policy.js';
import { validateOptions } from './validate.js';

/**
 * Per-host counters and layer state, as plain JSON: the counters below, plus what each layer adds
 * (`breaker`, `retryBudget`, `hedgeBudget`, `latency`, `pushback`, `throttle`; see README).
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

const newCounters = (): HostCounters => ({ calls: 0, attempts: 0, retries: 0, failures: 0 });

/** Creates a resilient `fetch`. Throws a TypeError or RangeError naming the field for invalid options. */
export const createFetch = (options?: ResilientFetchOptions): ResilientFetch => {
  const valid = validateOptions(options);
  const maxHosts = valid.maxHosts ?? DEFAULTS.maxHosts;
  const resolve = createPolicyResolver(valid, maxHosts);
  const describers: Array<(origin: string) => Record<string, unknown> | undefined> = [];
  const closers: Array<() => void | Promise<void>> = [];
  // One listener per call sleeping in a back-off: any number of them is expected, not a leak.
  const closing = new AbortController();
  setMaxListeners(0, closing.signal);
  const context: LayerContext = {
    emit: createEmitter(valid.onEvent),
    counters: new HostRegistry(maxHosts, newCounters),
    maxHosts,
    describe: (describer) => void describers.push(describer),
    onClose: (closer) => void closers.push(closer),
    closing: closing.signal,
  };
  const transport = valid.fetch
    ? createInjectedTransport(valid.fetch)
    : (valid.transport ?? DEFAULTS.transport) === 'fetch'
      ? createUndiciTransport()
      : createDispatcherTransport();
  // retry → hedge → upstream (which origin) → throttle → breaker (per origin) → attempt timeout → transport
  const send = compose(
    createRetryLayer(context),
    createHedgeLayer(context),
    createUpstreamLayer(context),
    createThrottleLayer(context),
    createBreakerLayer(context),
    createTimeoutLayer(context),
  )(transport.send);

  let closed: Promise<void> | undefined;

  async function resilientFetch(input: string | URL | Request, init: ResilientRequestInit | undefined = undefined) {
    if (closed) throw new TypeError('resilient-fetch: this client is closed');
    let timer: ReturnType<typeof setTimeout> | undefined;
    const prepare: PrepareContext = {
      resolve,
      signal: (caller, policy: ResolvedPolicy, readsStream) => {
        const total = policy.timeout.total;
        if (total === false) return { signal: caller ?? undefined, deadline: Infinity };
        // No caller's signal and no stream to read: the layers keep the deadline (see PreparedRequest.signal).
        if (!caller && !readsStream) return { signal: undefined, deadline: performance.now() + total };
        const controller = new AbortController();
        timer = setTimeout(() => controller.abort(totalTimeoutError(total)), total);
        return {
          signal: caller ? AbortSignal.any([caller, controller.signal]) : controller.signal,
          deadline: performance.now() + total,
        };
      },
    };
    let origin: string | undefined;
    try {
      const request = await prepareRequest(input, init as RequestInitWithPolicy | undefined, prepare);
      request.signal?.throwIfAborted();
      origin = request.url.origin;
      context.counters.get(origin).calls++;
      const attempt: Attempt = { request, url: request.url, signal: request.signal, number: 0, branch: 0 };
      return await send(attempt);
    } catch (error) {
      if (origin !== undefined) context.counters.get(origin).failures++;
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  const close = (): Promise<void> => {
    closed ??= (async () => {
      // First, so that calls sleeping in a back-off settle now instead of waking up to a closed pool.
      closing.abort(new TypeError('resilient-fetch: this client is closed'));
      await Promise.allSettled(closers.map((closer) => closer()));
      await transport.close();
    })();
    return closed;
  };

  const stats = (): FetchStats => {
    const hosts: FetchStats['hosts'] = {};
    for (const [origin, counters] of context.counters.entries()) {
      hosts[origin] = { ...counters };
      for (const describer of describers) Object.assign(hosts[origin], describer(origin));
    }
    return { hosts };
  };

  return Object.assign(resilientFetch, { stats, close, [Symbol.asyncDispose]: close }) as ResilientFetch;
};
