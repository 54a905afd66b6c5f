/**
 * Clients for a logical host served by several instances (the rolling-restart scenario). Callers
 * use the logical URL (`http://logical.test/...`); peers without an upstream list pick the instance
 * themselves, by round robin: the call takes the next instance, and (where the library lets an
 * attempt choose its URL) its n-th retry the n-th instance after that, so a retry never repeats the
 * instance it just failed on while there are others (go-micro's "next node on retry").
 */
import http from 'node:http';
import { ExponentialBackoff, TimeoutStrategy, handleAll, retry as cockatielRetry, timeout, wrap } from 'cockatiel';
import got from 'got';
import pRetry from 'p-retry';
import { Agent, fetch as undiciFetch } from 'undici';
import {
  ATTEMPT_TIMEOUT,
  BACKOFF_BASE,
  BACKOFF_MAX,
  ERROR_CODES,
  RETRIES,
  STATUSES,
  backoff,
  resilientOptionsAdapter,
  type Adapter,
  type BenchRequest,
} from './adapters.js';
import type { Policy } from '../../src/options.js';

export const LOGICAL_HOST = 'logical.test';

/** The request's URL with its origin replaced by `origin`. */
const onInstance = (request: BenchRequest, origin: string): string => {
  const url = new URL(request.url);
  return `${origin}${url.pathname}${url.search}`;
};

const statusSet = new Set(STATUSES);

class StatusError extends Error {
  constructor(readonly status: number) {
    super(`retryable status ${status}`);
  }
}

const readStatus = async (res: { status: number; arrayBuffer(): Promise<ArrayBuffer> }): Promise<number> => {
  await res.arrayBuffer();
  return res.status;
};

/** Round robin: `pick(call, attempt)` is the instance of a call's attempt (0 = first). */
const roundRobin = (origins: readonly string[]) => {
  let next = 0;
  return {
    start: () => next++,
    pick: (start: number, attempt: number) => origins[(start + attempt) % origins.length] as string,
  };
};

/** undici fetch, no retry; each call on the next instance. */
export const bareRoundRobin = (origins: readonly string[]) => (): Adapter => {
  const dispatcher = new Agent();
  const rr = roundRobin(origins);
  return {
    name: 'undici fetch (bare), round robin',
    settings: 'undici 7 fetch on its own Agent, no retry; call i goes to instance i mod 3',
    call: async (request) =>
      readStatus(await undiciFetch(onInstance(request, rr.pick(rr.start(), 0)), { headers: request.headers, dispatcher })),
    close: () => dispatcher.close(),
  };
};

/** p-retry around undici fetch; attempt n of a call goes n instances further. */
export const pRetryRoundRobin = (origins: readonly string[]) => (): Adapter => {
  const dispatcher = new Agent();
  const rr = roundRobin(origins);
  return {
    name: 'p-retry, round robin failover',
    settings: `p-retry 7 (retries ${RETRIES}, minTimeout ${BACKOFF_BASE}, maxTimeout ${BACKOFF_MAX}, factor 2, no jitter) around undici fetch with AbortSignal.timeout(${ATTEMPT_TIMEOUT}); every attempt on the next instance; every error and statuses ${STATUSES.join('/')} retried; no budget, no breaker`,
    call: async (request) => {
      const start = rr.start();
      try {
        return await pRetry(
          async (attempt) => {
            const url = onInstance(request, rr.pick(start, attempt - 1));
            const signal = AbortSignal.timeout(ATTEMPT_TIMEOUT);
            const status = await readStatus(await undiciFetch(url, { headers: request.headers, dispatcher, signal }));
            if (statusSet.has(status)) throw new StatusError(status);
            return status;
          },
          { retries: RETRIES, minTimeout: BACKOFF_BASE, maxTimeout: BACKOFF_MAX, factor: 2, randomize: false },
        );
      } catch (error) {
        if (error instanceof StatusError) return error.status;
        throw error;
      }
    },
    close: () => dispatcher.close(),
  };
};

/** cockatiel retry + timeout around the global fetch; attempt n of a call goes n instances further. */
export const cockatielRoundRobin = (origins: readonly string[]) => (): Adapter => {
  const rr = roundRobin(origins);
  const policy = wrap(
    cockatielRetry(
      handleAll.orWhenResult((result) => statusSet.has(result as number)),
      { maxAttempts: RETRIES, backoff: new ExponentialBackoff({ initialDelay: BACKOFF_BASE, maxDelay: BACKOFF_MAX }) },
    ),
    timeout(ATTEMPT_TIMEOUT, TimeoutStrategy.Aggressive),
  );
  return {
    name: 'cockatiel retry, round robin failover',
    settings: `cockatiel 3: retry(maxAttempts ${RETRIES} = ${RETRIES} retries, ExponentialBackoff ${BACKOFF_BASE}→${BACKOFF_MAX} ms) → timeout ${ATTEMPT_TIMEOUT} ms over the global fetch; every attempt on the next instance (its attempt counter picks it); no breaker (one breaker over all instances would trip on the dead one)`,
    call: (request) => {
      const start = rr.start();
      let attempt = 0;
      return policy.execute(async ({ signal }) =>
        readStatus(await fetch(onInstance(request, rr.pick(start, attempt++)), { headers: request.headers, signal })),
      );
    },
    close: async () => undefined,
  };
};

/** got: each call on the next instance; its retries stay on that instance's URL (got cannot fail over). */
export const gotRoundRobin = (origins: readonly string[]) => (): Adapter => {
  const agent = new http.Agent({ keepAlive: true });
  const rr = roundRobin(origins);
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
    name: 'got, round robin per call',
    settings: `got 14 (${RETRIES} retries, back-off ${BACKOFF_BASE}→${BACKOFF_MAX} ms, timeout.request ${ATTEMPT_TIMEOUT} ms): each call on the next instance, its retries on the same URL (as ky, fetch-retry and undici RetryAgent: a retry cannot pick another instance)`,
    call: async (request) => {
      const res = await client(onInstance(request, rr.pick(rr.start(), 0)), {
        headers: request.headers,
        responseType: 'buffer',
      });
      return res.statusCode;
    },
    close: async () => agent.destroy(),
  };
};

/** resilient-fetch with `hosts[LOGICAL_HOST].upstreams` and `extra` merged into that host's policy. */
export const resilientUpstreams =
  (origins: readonly string[], name: string, extra: Policy = {}, describe = '') =>
  (): Adapter =>
    resilientOptionsAdapter(
      name,
      { hosts: { [LOGICAL_HOST]: { upstreams: [...origins], ...extra } } },
      `createFetch({ hosts: { '${LOGICAL_HOST}': { upstreams: [3 instances]${describe ? `, ${describe}` : ''} } } }), everything else at its defaults (retry.limit 2, back-off 100 ms → 5 s, budget, breaker, least-request balancing, outlier ejection)`,
    );
