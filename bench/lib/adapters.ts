/**
 * The clients under comparison, each behind one `call(request) → status` function that reads the
 * whole body (so every row pays for the same work). Settings are as close as each library allows:
 * 3 retries, exponential back-off from 10 ms capped at 100 ms, the same retryable statuses and
 * errors, a 2 s attempt timeout where the library has one. Each adapter's `settings` string says
 * exactly what was configured, and is printed with every table.
 */
import http from 'node:http';
import CircuitBreaker from 'opossum';
import pRetry from 'p-retry';
import { Agent, RetryAgent, fetch as undiciFetch } from 'undici';
import {
  ExponentialBackoff,
  SamplingBreaker,
  TimeoutStrategy,
  circuitBreaker,
  handleAll,
  retry as cockatielRetry,
  timeout as cockatielTimeout,
  wrap,
} from 'cockatiel';
import fetchBuilder from 'fetch-retry';
import got from 'got';
import ky, { HTTPError } from 'ky';
import type { Policy, ResilientFetchOptions } from '../../src/options.js';

// The library as users run it: the built ESM output (`npm run build`; the bench scripts build first),
// not the TypeScript source through tsx, whose transform adds per-call helpers of its own.
// BENCH_LIB=src measures the source instead.
const library: typeof import('../../src/index.js') =
  process.env.BENCH_LIB === 'src' ? await import('../../src/index.js') : await import('../../dist/esm/index.js' as string);
const { createFetch } = library;

export type BenchRequest = {
  readonly url: string;
  readonly method: 'GET' | 'POST';
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Uint8Array<ArrayBuffer>;
};

export type Adapter = {
  readonly name: string;
  /** What was configured, in words, for the tables. */
  readonly settings: string;
  /** Sends one call and reads its body; resolves to the final status, rejects on a failed call. */
  call(request: BenchRequest): Promise<number>;
  close(): Promise<void>;
};

export const RETRIES = 3;
export const BACKOFF_BASE = 10;
export const BACKOFF_MAX = 100;
export const ATTEMPT_TIMEOUT = 2_000;
export const STATUSES: readonly number[] = [408, 429, 500, 502, 503, 504];
export const ERROR_CODES: readonly string[] = [
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
];
const statusSet = new Set(STATUSES);
/** Exponential back-off without jitter for libraries that take a delay function (retry 1 → 10 ms). */
export const backoff = (retry: number): number => Math.min(BACKOFF_MAX, BACKOFF_BASE * 2 ** Math.max(0, retry - 1));

const COMMON = `${RETRIES} retries, back-off ${BACKOFF_BASE}→${BACKOFF_MAX} ms ×2, statuses ${STATUSES.join('/')}`;

const readStatus = async (res: { status: number; arrayBuffer(): Promise<ArrayBuffer> }): Promise<number> => {
  await res.arrayBuffer();
  return res.status;
};

const init = (request: BenchRequest, signal?: AbortSignal) => ({
  method: request.method,
  headers: request.headers,
  ...(request.body ? { body: request.body } : {}),
  ...(signal ? { signal } : {}),
});

class StatusError extends Error {
  constructor(readonly status: number) {
    super(`retryable status ${status}`);
  }
}

export const bareUndici = (): Adapter => {
  const dispatcher = new Agent();
  return {
    name: 'undici fetch (bare)',
    settings: 'undici 7 fetch on its own Agent (keep-alive), no retry, no timeout',
    call: async (request) => readStatus(await undiciFetch(request.url, { ...init(request), dispatcher })),
    close: () => dispatcher.close(),
  };
};

export const globalFetch = (): Adapter => ({
  name: 'global fetch',
  settings: "Node's global fetch (bundled undici), no retry, no timeout",
  call: async (request) => readStatus(await fetch(request.url, init(request))),
  close: async () => undefined,
});

export const kyAdapter = (): Adapter => {
  const client = ky.create({
    retry: {
      limit: RETRIES,
      statusCodes: [...STATUSES],
      backoffLimit: BACKOFF_MAX,
      delay: backoff,
    },
    timeout: ATTEMPT_TIMEOUT,
  });
  return {
    name: 'ky',
    settings: `ky 1: ${COMMON}, no jitter, default methods (no POST), timeout 2000 ms (ky's covers the whole call), throwHttpErrors on (ky retries statuses only then), global fetch`,
    call: async (request) => {
      try {
        return await readStatus(await client(request.url, init(request)));
      } catch (error) {
        // ky signals a final non-2xx status by throwing; the caller still gets the response.
        if (error instanceof HTTPError) return readStatus(error.response);
        throw error;
      }
    },
    close: async () => undefined,
  };
};

export const gotAdapter = (): Adapter => {
  const agent = new http.Agent({ keepAlive: true });
  const client = got.extend({
    retry: {
      limit: RETRIES,
      statusCodes: [...STATUSES],
      errorCodes: [...ERROR_CODES],
      calculateDelay: ({ attemptCount, computedValue }) => (computedValue === 0 ? 0 : backoff(attemptCount)),
    },
    timeout: { request: ATTEMPT_TIMEOUT },
    throwHttpErrors: false,
    agent: { http: agent },
  });
  return {
    name: 'got',
    settings: `got 14: ${COMMON}, no jitter, default methods (no POST), timeout.request 2000 ms per attempt, keep-alive http.Agent`,
    call: async (request) => {
      const res = await client(request.url, {
        method: request.method,
        headers: request.headers,
        responseType: 'buffer',
        ...(request.body ? { body: Buffer.from(request.body) } : {}),
      });
      return res.statusCode;
    },
    close: async () => agent.destroy(),
  };
};

export const fetchRetryAdapter = (): Adapter => {
  const client = fetchBuilder(fetch, {
    retryDelay: (attempt: number) => backoff(attempt + 1),
    retryOn: (attempt: number, error: Error | null, response: Response | null) =>
      attempt < RETRIES && (error !== null || (response !== null && statusSet.has(response.status))),
  });
  return {
    name: 'fetch-retry',
    settings: `fetch-retry 6 over global fetch: ${COMMON}, every error retried, every method (POST too), no attempt timeout`,
    call: async (request) => readStatus(await client(request.url, init(request))),
    close: async () => undefined,
  };
};

export const cockatielAdapter = (): Adapter => {
  const retryable = handleAll.orWhenResult((result) => statusSet.has(result as number));
  const policy = wrap(
    cockatielRetry(retryable, {
      maxAttempts: RETRIES,
      backoff: new ExponentialBackoff({ initialDelay: BACKOFF_BASE, maxDelay: BACKOFF_MAX }),
    }),
    circuitBreaker(retryable, {
      halfOpenAfter: 1_000,
      breaker: new SamplingBreaker({ threshold: 0.5, duration: 10_000 }),
    }),
    cockatielTimeout(ATTEMPT_TIMEOUT, TimeoutStrategy.Aggressive),
  );
  return {
    name: 'cockatiel',
    settings:
      `cockatiel 3: retry(maxAttempts ${RETRIES} = ${RETRIES} retries, ExponentialBackoff 10→100 ms, decorrelated jitter) ` +
      '→ circuitBreaker(SamplingBreaker 50 % over 10 s, halfOpenAfter 1 s) → timeout 2000 ms aggressive; every error and method retried; global fetch',
    call: (request) => policy.execute(async ({ signal }) => readStatus(await fetch(request.url, init(request, signal)))),
    close: async () => undefined,
  };
};

export const retryAgentAdapter = (): Adapter => {
  const agent = new Agent({ headersTimeout: ATTEMPT_TIMEOUT });
  const dispatcher = new RetryAgent(agent, {
    maxRetries: RETRIES,
    minTimeout: BACKOFF_BASE,
    maxTimeout: BACKOFF_MAX,
    timeoutFactor: 2,
    statusCodes: [...STATUSES],
    errorCodes: [...ERROR_CODES],
  });
  return {
    name: 'undici RetryAgent',
    settings: `undici 7 RetryAgent: maxRetries ${RETRIES}, minTimeout 10, maxTimeout 100, factor 2, statuses/errors as above, default methods (no POST), headersTimeout 2000 ms`,
    call: async (request) => readStatus(await undiciFetch(request.url, { ...init(request), dispatcher })),
    close: () => agent.close(),
  };
};

export const pRetryOpossumAdapter = (): Adapter => {
  const breaker = new CircuitBreaker(
    async (request: BenchRequest): Promise<number> => {
      const status = await readStatus(await fetch(request.url, init(request, AbortSignal.timeout(ATTEMPT_TIMEOUT))));
      if (statusSet.has(status)) throw new StatusError(status);
      return status;
    },
    {
      timeout: false,
      errorThresholdPercentage: 50,
      volumeThreshold: 20,
      resetTimeout: 1_000,
      rollingCountTimeout: 10_000,
      enableSnapshots: false,
    },
  );
  return {
    name: 'p-retry + opossum',
    settings:
      `p-retry 7 (retries ${RETRIES}, minTimeout 10, maxTimeout 100, factor 2, no jitter) around opossum 9 ` +
      '(50 %, volumeThreshold 20, resetTimeout 1 s, its timeout off) around global fetch with AbortSignal.timeout(2000); the open-breaker error is retried too; every method',
    call: async (request) => {
      try {
        return await pRetry(() => breaker.fire(request), {
          retries: RETRIES,
          minTimeout: BACKOFF_BASE,
          maxTimeout: BACKOFF_MAX,
          factor: 2,
          randomize: false,
        });
      } catch (error) {
        if (error instanceof StatusError) return error.status;
        throw error;
      }
    },
    close: async () => breaker.shutdown(),
  };
};

/** resilient-fetch with the common retry settings plus `extra` (merged over them) for a variant. */
export const resilientAdapter = (
  name: string,
  extra: Policy = {},
  describe = '',
  options: { transport?: 'dispatcher' | 'undici-fetch' } = {},
): Adapter => {
  const policy: Policy = {
    ...extra,
    retry:
      extra.retry === false
        ? false
        : {
            limit: RETRIES,
            backoff: { base: BACKOFF_BASE, max: BACKOFF_MAX, factor: 2, jitter: 'full' },
            ...(typeof extra.retry === 'object' && extra.retry),
          },
    timeout: { attempt: ATTEMPT_TIMEOUT, total: 30_000 },
  };
  const client = createFetch({ ...options, defaults: policy });
  return {
    name,
    settings: `resilient-fetch: retry.limit ${RETRIES}, backoff 10→100 ms ×2 full jitter, timeout.attempt 2000 ms, breaker and retry budget on (defaults), transport ${options.transport ?? 'dispatcher'}${describe ? `, ${describe}` : ''}`,
    call: async (request) => readStatus(await client(request.url, init(request))),
    close: () => client.close(),
  };
};

export type AdapterFactory = () => Adapter;

/** The peers, in table order; the bare transport first (ratios are taken against it). */
export const PEERS: readonly AdapterFactory[] = [
  bareUndici,
  globalFetch,
  kyAdapter,
  gotAdapter,
  fetchRetryAdapter,
  cockatielAdapter,
  retryAgentAdapter,
  pRetryOpossumAdapter,
];

/**
 * resilient-fetch exactly as `createFetch(options)` builds it, with none of the bench's common
 * settings merged in: the "(defaults)" rows. `settings` says what was set, for the tables.
 */
export const resilientOptionsAdapter = (
  name: string,
  options: ResilientFetchOptions = {},
  settings = 'createFetch() with nothing set: every field at its default',
): Adapter => {
  const client = createFetch(options);
  return {
    name,
    settings: `resilient-fetch: ${settings}`,
    call: async (request) => readStatus(await client(request.url, init(request))),
    close: () => client.close(),
  };
};

/** The "(defaults)" row of the peer tables: only `retry.limit` set, to the peers' 3 retries. */
export const resilientDefaults = (): Adapter =>
  resilientOptionsAdapter(
    'resilient-fetch (defaults)',
    { defaults: { retry: { limit: RETRIES } } },
    `createFetch({ defaults: { retry: { limit: ${RETRIES} } } }), everything else at its defaults (back-off 100 ms → 5 s full jitter, retry budget, breaker, timeouts 10 s / 30 s)`,
  );
