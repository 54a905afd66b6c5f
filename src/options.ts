/**
 * Public option types. Every field is optional; `false` switches a layer off and `true` switches it
 * on with its built-in defaults. Defaults live in `defaults.ts`; validation in `validate.ts`, merging
 * in `resolve-policy.ts`.
 */
import type { Dispatcher } from 'undici';
import type { ResilientEvent } from './diagnostics.js';

/** A function with the WHATWG `fetch` signature, used as the transport when given. */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** Jitter applied to the exponential back-off. See AWS "Exponential Backoff and Jitter". */
export type Jitter = 'full' | 'equal' | 'decorrelated' | 'none';

/** Exponential back-off settings. */
export type BackoffOptions = {
  /** First retry's ceiling, in milliseconds. @default 100 */
  base?: number;
  /** Largest delay between two attempts, in milliseconds. @default 5000 */
  max?: number;
  /** Growth factor per retry. @default 2 */
  factor?: number;
  /** How the delay is randomised. @default 'full' */
  jitter?: Jitter;
};

/**
 * A back-off as a function of the retry number (1 for the first retry), returning milliseconds.
 * @example backoff: (retry) => 50 * retry
 */
export type BackoffFunction = (retry: number) => number;

/** What `shouldRetry` is told about a failed attempt. */
export type RetryContext = {
  /** Where the failed attempt went, as sent (credentials removed): with `upstreams`, the upstream's URL. */
  readonly url: string;
  /** The caller's URL (credentials removed); the same as `url` unless the attempt went to an upstream. */
  readonly requestUrl: string;
  /** The request's method, upper case. */
  readonly method: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** The response of the failed attempt, when it got one. Do not read its body. */
  readonly response?: Response;
  /** The error of the failed attempt, when it had no response. */
  readonly error?: unknown;
  /** What the built-in rules decided. */
  readonly retryable: boolean;
};

/**
 * A budget of extra requests (retries, hedges) per origin as a share of calls over a sliding window,
 * the one shape of `retry.budget` and `hedge.budget`.
 */
export type BudgetOptions = {
  /** Extra requests allowed as a share of calls in the window (0..1). @default 0.1 */
  ratio?: number;
  /** Extra requests always allowed per second, whatever the ratio (a reserve of `minPerSecond × window / 1000` per window). @default 1 */
  minPerSecond?: number;
  /** Sliding window length, in milliseconds. @default 10000 */
  window?: number;
};

/**
 * A budget: a number is the `ratio` (`budget: 0.2` is `budget: { ratio: 0.2 }`), an object sets its
 * fields, `false` means no budget.
 */
export type Budget = number | BudgetOptions | false;

export type RetryOptions = {
  /** Retries after the first attempt (so `limit: 2` sends at most 3 requests). @default 2 */
  limit?: number;
  /** Methods retried without an `Idempotency-Key`. @default ['GET','HEAD','OPTIONS','PUT','DELETE'] */
  methods?: readonly string[];
  /** Response statuses that are retried. @default [408, 429, 500, 502, 503, 504] */
  statusCodes?: readonly number[];
  /** Network error codes (looked up through nested `cause`) that are retried. */
  errorCodes?: readonly string[];
  /** Back-off between attempts: settings for exponential back-off, or a function. */
  backoff?: BackoffOptions | BackoffFunction;
  /** Longest `Retry-After` honoured, in milliseconds; a longer one returns the response at once. @default 30000 */
  maxRetryAfter?: number;
  /**
   * Retry budget per origin: a ratio, `{ ratio, minPerSecond, window }`, or `false` for none.
   * @default { ratio: 0.1, minPerSecond: 1, window: 10000 }
   */
  budget?: Budget;
  /**
   * Overrides the built-in decision: `true` retries, `false` does not, `undefined` keeps the decision.
   * Called only while retries are left.
   * @example shouldRetry: ({ response }) => response?.status === 409 ? true : undefined
   */
  shouldRetry?: (context: RetryContext) => boolean | undefined | Promise<boolean | undefined>;
};

/** Adaptive hedge delay learned from the host's own latencies. */
export type AdaptiveDelay = {
  /** Latency percentile after which a hedge is sent (0..100). @default 95 */
  percentile?: number;
  /** Lower clamp, in milliseconds. @default 5 */
  min?: number;
  /** Upper clamp, and the delay used until enough samples exist, in milliseconds. @default 1000 */
  max?: number;
};

export type HedgeOptions = {
  /** Milliseconds to wait before a hedge, or `'auto'` / {@link AdaptiveDelay}. @default 'auto' */
  delay?: number | 'auto' | AdaptiveDelay;
  /** Extra requests at most per attempt. @default 1 */
  maxHedges?: number;
  /** Methods that may be hedged. @default ['GET', 'HEAD'] */
  methods?: readonly string[];
  /**
   * Hedge budget per origin: a ratio, `{ ratio, minPerSecond, window }`, or `false` for no limit.
   * @default { ratio: 0.1, minPerSecond: 1, window: 10000 }
   */
  budget?: Budget;
};

export type BreakerOptions = {
  /** Error percentage in the rolling window that opens the breaker. @default 50 */
  errorThresholdPercentage?: number;
  /** Calls in the rolling window before the breaker may open. @default 20 */
  volumeThreshold?: number;
  /**
   * Milliseconds the breaker stays open before a half-open probe, the first time; each failed probe
   * doubles it, up to `maxResetTimeout`, and a probe that succeeds sets it back. @default 1000
   */
  resetTimeout?: number;
  /** The longest the breaker stays open before a probe (a host that stays down). @default 30000 */
  maxResetTimeout?: number;
  /** Length of the rolling statistics window, in milliseconds. @default 10000 */
  rollingCountTimeout?: number;
  /** Buckets in the rolling window. @default 10 */
  rollingCountBuckets?: number;
  /** Statuses counted as failures. @default [500, 502, 503, 504] */
  failureStatusCodes?: readonly number[];
  /**
   * Answer given while the breaker is open, instead of rejecting with `CircuitOpenError`.
   * @example fallback: () => new Response('[]', { status: 200 })
   */
  fallback?: (request: Request, error: Error) => Response | Promise<Response>;
};

export type TimeoutOptions = {
  /** Milliseconds one attempt may take until its response headers, or `false`. @default 10000 */
  attempt?: number | false;
  /** Milliseconds the whole call may take until response headers, back-offs included, or `false`. @default 30000 */
  total?: number | false;
};

/** Adaptive client-side throttling (Google SRE book, "Handling Overload"). */
export type ThrottleOptions = {
  /** Multiplier K in max(0, (requests − K·accepts) / (requests + 1)). @default 2 */
  k?: number;
  /** Window the counts are kept over, in milliseconds. @default 60000 */
  window?: number;
  /**
   * Highest rejection probability (0..1). Below 1 a share of calls always reaches the host, so the
   * client sees it recover within about two windows instead of many. @default 0.9
   */
  maxProbability?: number;
};

/**
 * Outlier ejection over `upstreams` (Envoy's `outlier_detection`): an upstream that fails
 * `consecutiveFailures` attempts in a row (a 5xx, a reset, an attempt timeout), or refuses a
 * connection once (conclusive: nothing listens), is skipped for an ejection time that grows with each
 * ejection (`baseEjectionTime × ejections`, at most `maxEjectionTime`). At most `maxEjectionPercent`
 * of a host's upstreams are ejected at once, and at least one always stays in.
 */
export type OutlierDetectionOptions = {
  /** Failed attempts in a row that eject an upstream (Envoy `consecutive_5xx`). @default 5 */
  consecutiveFailures?: number;
  /** First ejection's length, in milliseconds; the n-th lasts n times as long. @default 1000 */
  baseEjectionTime?: number;
  /** Longest ejection, in milliseconds. @default 60000 */
  maxEjectionTime?: number;
  /** Largest share of a host's upstreams ejected at once, in percent (at least one always stays). @default 50 */
  maxEjectionPercent?: number;
};

/**
 * Bulkhead per origin (Envoy's cluster circuit-breaker thresholds `max_requests` and
 * `max_pending_requests`, Polly's `ConcurrencyLimiter`, cockatiel's `bulkhead(limit, queue)`): at
 * most `maxConcurrent` requests of one origin in flight (first attempts, retries and hedges, each from
 * its send to its response headers), at most `maxQueued` more waiting for a slot, in arrival order. A
 * request that finds the queue full, or waits longer than `queueTimeout`, rejects with
 * `BulkheadRejectedError` without reaching the network.
 */
export type BulkheadOptions = {
  /**
   * Requests of one origin in flight at once, or `'auto'` to learn the origin's limit from its
   * latency and its overload answers (Gradient2, see README "Adaptive concurrency"). @default 1024
   */
  maxConcurrent?: number | 'auto';
  /** Requests that may wait for a slot; beyond it a request is rejected at once. @default 1024 */
  maxQueued?: number;
  /** Longest wait for a slot, in milliseconds; a request waiting longer is rejected. @default 1000 */
  queueTimeout?: number;
};

/**
 * A resilience policy, for every host (`defaults`), one host pattern, or one request. Each layer
 * takes an object (merged field by field over what it inherits), `false` (off) or `true` (on, with
 * its built-in defaults, whatever it inherits); `retry` also takes a number, the `limit`
 * (`retry: 3` is `retry: { limit: 3 }`, as in ky).
 */
export type Policy = {
  /** Retries: options, the retry limit as a number, `true` (defaults) or `false` (no retries). */
  retry?: RetryOptions | number | boolean;
  /** Hedged requests: options, `true` (defaults) or `false`. @default false */
  hedge?: HedgeOptions | boolean;
  /** The origin's circuit breaker: options, `true` (defaults) or `false`. */
  breaker?: BreakerOptions | boolean;
  /** Attempt and total timeouts: options, `true` (defaults) or `false` (none). */
  timeout?: TimeoutOptions | boolean;
  /** Adaptive client-side throttling: options, `true` (defaults) or `false`. @default false */
  throttle?: ThrottleOptions | boolean;
  /** Largest request body kept in memory for replay, in bytes. @default 1048576 */
  maxBufferBytes?: number;
  /**
   * Origins that serve this host; retries and hedges go to the next healthy one. Only in a `hosts`
   * entry or a request's `policy`: in `defaults` it would send every host's traffic to them, and is
   * an error.
   */
  upstreams?: readonly string[];
  /**
   * How a call's first attempt picks one of `upstreams`: `'least-request'` (power of two choices on
   * requests in flight, as Envoy's `LEAST_REQUEST`, Finagle and Linkerd) or `'round-robin'`.
   * @default 'least-request'
   */
  balance?: 'least-request' | 'round-robin';
  /** Outlier ejection over `upstreams`: options, `true` (defaults) or `false` (none). */
  outlierDetection?: OutlierDetectionOptions | boolean;
  /** A concurrency limit per origin: options, `true` (defaults) or `false` (none). @default false */
  bulkhead?: BulkheadOptions | boolean;
  /**
   * Header that carries, on every attempt, the milliseconds left of the call's deadline when the
   * attempt is sent (as gRPC's `grpc-timeout` and Envoy's `x-envoy-expected-rq-timeout-ms`), or
   * `false` (the default). The deadline is the total timeout, or an enclosing `runWithDeadline`'s
   * if that ends first; a call with neither sends no header.
   * @example deadlineHeader: 'x-request-timeout-ms'
   */
  deadlineHeader?: string | false;
  /**
   * Header that carries each attempt's 1-based number within its call, hedges included (Envoy's
   * `x-envoy-attempt-count`), or `false` (the default).
   * @example attemptHeader: 'x-attempt'
   */
  attemptHeader?: string | false;
};

export type ResilientFetchOptions = {
  /** Transport to use instead of the built-in undici one (msw, a test double, an instrumented fetch). */
  fetch?: FetchLike;
  /**
   * The built-in transport (ignored when `fetch` is given): `'dispatcher'` sends through undici's
   * `Agent.dispatch` and builds the global `Response` itself, keeping fetch's semantics at a fraction
   * of its cost; `'undici-fetch'` calls undici's own `fetch` (the reference; not the global
   * `fetch`, which is Node's bundled copy of undici). Requests the dispatcher
   * transport cannot serve exactly as fetch would (`data:` URLs, a caller's `dispatcher`,
   * `integrity`, `mode`, `cache`, `referrer`) go to undici's `fetch` either way.
   * @default 'dispatcher'
   */
  transport?: 'dispatcher' | 'undici-fetch';
  /**
   * The undici `Dispatcher` every request goes through (instead of the client's own pool): an `Agent`
   * with `connect` (private CA, client certificate) or `allowH2`, a `ProxyAgent`, an
   * `EnvHttpProxyAgent`, a `MockAgent`. It stays yours: `close()` does not close it. A call's own
   * `init.dispatcher` (or a `Request`'s) still wins. Without it, requests go through the
   * process-wide dispatcher when `setGlobalDispatcher()` (or Node's `NODE_USE_ENV_PROXY`) set one,
   * as Node's `fetch` does, and through the client's own pool otherwise. Not with `fetch`.
   * @example dispatcher: new Agent({ allowH2: true, connect: { ca: readFileSync('ca.pem') } })
   */
  dispatcher?: Dispatcher;
  /** Policy for every host (everything but `upstreams`, which names the origins of one host: put it under `hosts`). */
  defaults?: Policy;
  /** Policies per host pattern: `'api.example.com'`, `'host:8080'`, `'*.internal'`. Most specific wins. */
  hosts?: Readonly<Record<string, Policy>>;
  /** Receives retry, hedge, breaker and budget events. Must not throw. */
  onEvent?: (event: ResilientEvent) => void;
  /** Hosts whose state (breakers, budgets, latencies, counters) is kept; least recently used is evicted. @default 1000 */
  maxHosts?: number;
};

/** `RequestInit` with a per-request policy override and Node's `dispatcher` extension. */
export type ResilientRequestInit = RequestInit & {
  policy?: Policy;
  dispatcher?: unknown;
};

// ---- Resolved twins (every field present) -------------------------------------------------------

export type ResolvedBackoff = Required<BackoffOptions> | BackoffFunction;
/** A budget with every field present: what `retry.budget` and `hedge.budget` resolve to. */
export type ResolvedBudget = Readonly<Required<BudgetOptions>>;
export type ResolvedRetry = {
  readonly limit: number;
  readonly methods: ReadonlySet<string>;
  readonly statusCodes: ReadonlySet<number>;
  readonly errorCodes: ReadonlySet<string>;
  readonly backoff: ResolvedBackoff;
  readonly maxRetryAfter: number;
  readonly budget: ResolvedBudget | false;
  readonly shouldRetry: RetryOptions['shouldRetry'] | undefined;
};
export type ResolvedHedge = {
  readonly delay: number | Required<AdaptiveDelay>;
  readonly maxHedges: number;
  readonly methods: ReadonlySet<string>;
  readonly budget: ResolvedBudget | false;
};
export type ResolvedBreaker = Required<Omit<BreakerOptions, 'fallback' | 'failureStatusCodes'>> & {
  readonly failureStatusCodes: ReadonlySet<number>;
  readonly fallback: BreakerOptions['fallback'] | undefined;
};
export type ResolvedTimeout = { readonly attempt: number | false; readonly total: number | false };
export type ResolvedThrottle = Required<ThrottleOptions>;
export type ResolvedPolicy = {
  readonly retry: ResolvedRetry | false;
  readonly hedge: ResolvedHedge | false;
  readonly breaker: ResolvedBreaker | false;
  readonly timeout: ResolvedTimeout;
  readonly throttle: ResolvedThrottle | false;
  readonly maxBufferBytes: number;
  readonly upstreams: readonly string[];
  readonly balance: 'least-request' | 'round-robin';
  readonly outlierDetection: ResolvedOutlierDetection | false;
  readonly bulkhead: ResolvedBulkhead | false;
  /** Lower-cased header names, or false. */
  readonly deadlineHeader: string | false;
  readonly attemptHeader: string | false;
};
export type ResolvedOutlierDetection = Required<OutlierDetectionOptions>;
export type ResolvedBulkhead = Required<BulkheadOptions>;
