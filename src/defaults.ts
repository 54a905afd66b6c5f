/**
 * The one place defaults live. Each value has its reason (the anchor it follows) beside it.
 *
 * `DEFAULTS` (exported) holds only option paths a user can write: the policy fields, as written in
 * `defaults`, a `hosts` entry or a request's `policy`, and the client options `transport` and
 * `maxHosts`. README's defaults table is checked against it by a test, path for path. What is not a
 * user path stays internal: `LAYER_DEFAULTS` (what a layer gets when it is switched on by `true`, or
 * by an object over a layer that was off) and `INSTALL_DEFAULTS` (what `install()` changes).
 */

const deepFreeze = <T>(value: T): T => {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
};

export const DEFAULTS = deepFreeze({
  retry: {
    /** ky and got: 2; Polly/.NET: 3; undici RetryAgent: 5. Two retries catch most blips. */
    limit: 2,
    /**
     * RFC 9110 idempotent methods but TRACE, which fetch refuses to send. POST/PATCH only with an
     * Idempotency-Key header.
     */
    methods: ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'],
    /** ky/got's list: timeout, throttled, and the gateway family. */
    statusCodes: [408, 429, 500, 502, 503, 504],
    /** Failures of the connection, not of the server's logic (undici and Node codes). */
    errorCodes: [
      'ECONNRESET',
      'ECONNREFUSED',
      'ECONNABORTED',
      'EPIPE',
      'ETIMEDOUT',
      'ENETUNREACH',
      'EHOSTUNREACH',
      'EAI_AGAIN',
      'UND_ERR_SOCKET',
      'UND_ERR_CONNECT_TIMEOUT',
      'UND_ERR_HEADERS_TIMEOUT',
      'UND_ERR_CLOSED',
    ],
    /** AWS "Exponential Backoff and Jitter": full jitter; Envoy 25 ms base; ky 300 ms. */
    backoff: { base: 100, max: 5_000, factor: 2, jitter: 'full' },
    /** got gives up above its cap, ky clamps; 30 s fits inside the default total timeout. */
    maxRetryAfter: 30_000,
    /**
     * SRE book: per-client retries <= 10 %; Finagle RetryBudget (10 s window, floor per second).
     * Floor 1/s, not Finagle's 10 or the first proposal's 5: amplification is at most
     * 1 + ratio + minPerSecond / (calls per second), so 1/s keeps a 503 storm under 1.25 requests per
     * call for any host called 7+ times a second (5/s needed 33+); its reserve of 10 per window is
     * gRPC's retryThrottling maxTokens, enough for a quiet host's occasional blip.
     */
    budget: { ratio: 0.1, minPerSecond: 1, window: 10_000 },
  },
  /** Off unless set: hedging multiplies traffic and only fits idempotent reads (`hedge: true` gives `LAYER_DEFAULTS.hedge`). */
  hedge: false,
  breaker: {
    /** opossum's default threshold. */
    errorThresholdPercentage: 50,
    /** opossum's 0 opens on the first failure; 20 calls make a percentage meaningful. */
    volumeThreshold: 20,
    /**
     * The first open period. opossum 30 s, Polly 5 s, both fixed: a client then refuses calls for that
     * long after a one-second blip. 1 s, doubled per failed probe, costs a short outage a second
     * and a long one a probe call now and then (outlierDetection grows the same way).
     */
    resetTimeout: 1_000,
    /** opossum's fixed default: a host down for good is probed twice a minute. */
    maxResetTimeout: 30_000,
    /** opossum's default rolling window. */
    rollingCountTimeout: 10_000,
    rollingCountBuckets: 10,
    /** The server-side failure family; 4xx are the caller's problem, not the host's. */
    failureStatusCodes: [500, 502, 503, 504],
  },
  /** .NET standard resilience handler: 10 s per attempt, 30 s in all. */
  timeout: { attempt: 10_000, total: 30_000 },
  /** Off by default: it rejects requests locally, which a caller must opt into (`throttle: true` gives `LAYER_DEFAULTS.throttle`). */
  throttle: false,
  /** gRPC commits once its retry buffer overflows; 1 MiB covers JSON APIs. */
  maxBufferBytes: 1_048_576,
  /** Envoy, Finagle and Linkerd balance on requests in flight with two random choices: it steers around a slow upstream. */
  balance: 'least-request' as 'least-request' | 'round-robin',
  outlierDetection: {
    /** Envoy's consecutive_5xx. */
    consecutiveFailures: 5,
    /**
     * Envoy's base is 30 s beside active health checks; a client with none sees a restart of a
     * second or two, and an upstream back from ejection costs at most one attempt (a refused
     * connection is retried for free), after which its next ejection is twice as long.
     */
    baseEjectionTime: 1_000,
    /** Envoy's max_ejection_time is 300 s; a minute bounds how long a recovered upstream is left idle. */
    maxEjectionTime: 60_000,
    /** Envoy's default is 10 % (but at least one host); with a handful of upstreams half is the useful cap. */
    maxEjectionPercent: 50,
  },
  /** Off by default: it rejects requests locally, which a caller must opt into (`bulkhead: true` gives `LAYER_DEFAULTS.bulkhead`). */
  bulkhead: false,
  /** Off by default: a header a server does not expect is not sent unasked. */
  deadlineHeader: false as string | false,
  attemptHeader: false as string | false,
  /** Bound on per-host state (breakers, budgets, latency windows). */
  maxHosts: 1_000,
  /** undici's dispatch with fetch's semantics kept: faster than fetch (docs/transport.md). */
  transport: 'dispatcher' as 'dispatcher' | 'undici-fetch',
} as const);

export type Defaults = typeof DEFAULTS;

/** The default budget of extra requests per origin (`retry.budget`, `hedge.budget`): one shape for both. */
const BUDGET = DEFAULTS.retry.budget;

/**
 * Internal (not exported from the package): what each layer gets when switched on by `true`, or by
 * an object merged over a layer that was off. For the layers on by default it is their `DEFAULTS`.
 */
export const LAYER_DEFAULTS = deepFreeze({
  retry: DEFAULTS.retry,
  hedge: {
    /** Finagle BackupRequestFilter / Tail at Scale: hedge at the host's own p95. */
    delay: { percentile: 95, min: 5, max: 1_000 },
    /** gRPC hedgingPolicy allows several; one extra request buys most of the gain. */
    maxHedges: 1,
    /** Only safe, idempotent reads. */
    methods: ['GET', 'HEAD'],
    /**
     * At most 10 % extra requests per host, the retry budget's shape and window; its reserve of 1 per
     * second (10 per 10 s window) lets a host hedge before its 10th call and a host called once every
     * few seconds hedge at all, while a busy host's extra load stays at the ratio (10 tokens are
     * 0.5 % of 2,000 calls).
     */
    budget: { ratio: BUDGET.ratio, minPerSecond: BUDGET.minPerSecond, window: BUDGET.window },
  },
  breaker: DEFAULTS.breaker,
  timeout: DEFAULTS.timeout,
  throttle: {
    /** SRE book: K = 2. */
    k: 2,
    /** SRE book: two minutes of history; one minute reacts faster. */
    window: 60_000,
    /**
     * The formula alone nears 1 in an outage, and then recovers only as fast as accepts can double
     * per window (a 30 s outage at 100 calls/s stays throttled ~5 min after the host is back, with a
     * 60 s window); 0.9 lets 10 % through and recovers in ~100 s. Envoy's admission control has the
     * same cap (max_rejection_probability).
     */
    maxProbability: 0.9,
  },
  outlierDetection: DEFAULTS.outlierDetection,
  bulkhead: {
    /** Envoy's cluster threshold max_requests. */
    maxConcurrent: 1_024 as number | 'auto',
    /** Envoy's max_pending_requests. */
    maxQueued: 1_024,
    /**
     * Envoy queues without a time limit of its own (the route timeout bounds it); a second is long
     * enough to ride out a burst and short enough to fail fast beside the 10 s attempt timeout.
     */
    queueTimeout: 1_000,
  },
} as const);

/**
 * Internal: what `install()` changes in `defaults` unless the caller sets it. It swaps the fetch of
 * code the user did not write (SDKs, long polls, slow model calls, big downloads), so it must never
 * fail a call plain fetch completes. No attempt or total timeout (undici's own 300 s header and body
 * timeouts still apply, exactly as for plain fetch; a shorter one of ours fails calls fetch
 * completes), and no breaker (an open one rejects calls a half-healthy host would answer). Retries
 * stay: they only ever return a later answer, and the last one when they run out.
 */
export const INSTALL_DEFAULTS = deepFreeze({
  timeout: { attempt: false, total: false },
  breaker: false,
} as const);
