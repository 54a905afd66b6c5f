/**
 * `resilient-fetch/chaos`: fault injection for users, in the vocabulary of Polly's Simmy
 * (`Chaos.Fault`, `Chaos.Latency`, `Chaos.Outcome`, `Chaos.Behavior`; `InjectionRate`,
 * `EnabledGenerator`). `chaos(options)` wraps a `fetch` and returns a fetch-compatible function
 * that, on a seeded share of calls, throws a network error, adds latency, or answers a given
 * response without calling the wrapped fetch. Pass it as `createFetch({ fetch })` to test a
 * resilience policy. A separate entry: the main entry never imports this file.
 *
 * One `chaos()` is one strategy: per call, one draw decides whether the call is injected; an
 * injected call runs `behavior`, then `latency`, then `fault` or `outcome` (one of the two), else
 * passes through. Strategies with their own rates are layered by nesting, like a Polly pipeline.
 */
import { constants } from 'node:os';
import { delay } from './internal/delay.js';
import { mulberry32 } from './internal/prng.js';
import { asFetchResponse } from './internal/response.js';
import type { ChaosFetch, ChaosOptions, ChaosRequest, ChaosStats } from './chaos/options.js';
import type { FetchLike } from './options.js';

export type * from './chaos/options.js';

const KEYS = new Set(['fetch', 'rate', 'enabled', 'seed', 'fault', 'latency', 'outcome', 'behavior', 'onInjected']);
const OUTCOME_KEYS = new Set(['status', 'statusText', 'headers', 'body']);
const NULL_BODY_STATUS = new Set([204, 205, 304]);
// The methods fetch upper-cases (PATCH is not one of them).
const NORMALISED_METHODS = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);
/** The syscall Node names in the message of a failure with this code (`connect ECONNREFUSED`). */
const SYSCALL: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connect',
  ETIMEDOUT: 'connect',
  ENETUNREACH: 'connect',
  EHOSTUNREACH: 'connect',
  EAI_AGAIN: 'getaddrinfo',
  ENOTFOUND: 'getaddrinfo',
  EPIPE: 'write',
};
/** Reason phrases of the statuses an outcome usually has; others get none, as HTTP/2 gives. */
const REASON: Readonly<Record<number, string>> = {
  200: 'OK',
  400: 'Bad Request',
  404: 'Not Found',
  408: 'Request Timeout',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

const show = (value: unknown): string => {
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return 'an array';
  if (value === null || typeof value !== 'object') return String(value);
  return value instanceof Error ? `an ${value.name}` : 'an object';
};

const fail = (field: string, expected: string, value: unknown, Kind: ErrorConstructor = TypeError): never => {
  throw new Kind(`chaos: ${field} must be ${expected}, got ${show(value)}`);
};

const isRate = (value: unknown): value is number => typeof value === 'number' && value >= 0 && value <= 1;
const isDelay = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value) && value >= 0;
const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && [Object.prototype, null].includes(Object.getPrototypeOf(value) as object | null);

/** fetch's network error as undici gives it: `TypeError('fetch failed')`, its cause carrying `code`. */
export const networkError = (code = 'ECONNRESET'): TypeError => {
  const syscall = SYSCALL[code] ?? 'read';
  const cause = Object.assign(
    new Error(`${syscall} ${code}`),
    { code, syscall },
    code in constants.errno ? { errno: -constants.errno[code as keyof typeof constants.errno] } : {},
  );
  return new TypeError('fetch failed', { cause });
};

const validBody = (body: unknown): boolean =>
  body === null ||
  typeof body === 'string' ||
  body instanceof ArrayBuffer ||
  ArrayBuffer.isView(body) ||
  body instanceof Blob ||
  body instanceof URLSearchParams ||
  body instanceof FormData;

/** Checks an outcome object once; returns a function building a fresh `Response` from it per injection. */
const outcomeFrom = (outcome: Record<string, unknown>): (() => Response) => {
  for (const key of Object.keys(outcome))
    if (!OUTCOME_KEYS.has(key)) fail(`outcome.${key}`, 'absent (unknown key)', outcome[key]);
  const { status, statusText, headers, body = null } = outcome;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 599)
    fail('outcome.status', 'an integer from 200 to 599', status, RangeError);
  const code = status as number;
  if (statusText !== undefined && typeof statusText !== 'string') fail('outcome.statusText', 'a string', statusText);
  if (!validBody(body)) fail('outcome.body', 'a string, ArrayBuffer, typed array, Blob, URLSearchParams, FormData or null', body);
  if (body !== null && NULL_BODY_STATUS.has(code)) fail('outcome.body', `null for status ${code}`, body);
  let fixed: Headers;
  try {
    fixed = new Headers(headers as HeadersInit | undefined);
  } catch (error) {
    throw new TypeError(`chaos: outcome.headers must be valid HeadersInit: ${(error as Error).message}`);
  }
  const init: ResponseInit = {
    status: code,
    statusText: (statusText as string | undefined) ?? REASON[code] ?? '',
    headers: fixed,
  };
  return () => new Response(body as BodyInit | null, init);
};

const methodOf = (input: string | URL | Request, init: RequestInit | undefined): string => {
  const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
  const upper = method.toUpperCase();
  return NORMALISED_METHODS.has(upper) ? upper : method;
};

/** Wraps `options.fetch` (default: the global fetch at call time) with seeded fault injection. */
export const chaos = (options: ChaosOptions): ChaosFetch => {
  if (!isPlainObject(options)) fail('options', 'an object', options);
  for (const key of Object.keys(options))
    if (!KEYS.has(key)) fail(key, 'absent (unknown option)', (options as Record<string, unknown>)[key]);
  const { fetch: wrapped, rate, enabled = true, fault, latency, outcome, behavior, onInjected } = options;
  if (wrapped !== undefined && typeof wrapped !== 'function') fail('fetch', 'a function', wrapped);
  if (rate === undefined) fail('rate', 'given (a number in [0, 1] or a function)', rate);
  if (typeof rate !== 'function' && !isRate(rate))
    fail('rate', 'a number in [0, 1] or a function', rate, typeof rate === 'number' ? RangeError : TypeError);
  if (typeof enabled !== 'boolean' && typeof enabled !== 'function') fail('enabled', 'a boolean or a function', enabled);
  const seed = options.seed ?? (Math.random() * 4_294_967_296) >>> 0;
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff)
    fail('seed', 'an integer from 0 to 4294967295', seed, typeof seed === 'number' ? RangeError : TypeError);
  if (fault !== undefined && fault !== true && typeof fault !== 'function' && !(fault instanceof Error)) {
    if (typeof fault !== 'string' || !/^[A-Z][A-Z0-9_]*$/.test(fault))
      fail('fault', 'true, an error code such as "ECONNRESET", an Error or a function', fault);
  }
  if (latency !== undefined && typeof latency !== 'function' && !isDelay(latency))
    fail(
      'latency',
      'a finite number >= 0 (milliseconds) or a function',
      latency,
      typeof latency === 'number' ? RangeError : TypeError,
    );
  if (outcome !== undefined && typeof outcome !== 'function' && !isPlainObject(outcome))
    fail('outcome', 'an object { status, statusText, headers, body } or a function', outcome);
  if (behavior !== undefined && typeof behavior !== 'function') fail('behavior', 'a function', behavior);
  if (onInjected !== undefined && typeof onInjected !== 'function') fail('onInjected', 'a function', onInjected);
  if (fault !== undefined && outcome !== undefined)
    throw new TypeError(
      'chaos: fault and outcome exclude each other in one chaos(): nest two chaos() wrappers, each with its own rate, for a mix',
    );
  if (fault === undefined && latency === undefined && outcome === undefined && behavior === undefined)
    throw new TypeError('chaos: options need at least one of fault, latency, outcome or behavior');

  const answer =
    outcome === undefined || typeof outcome === 'function' ? undefined : outcomeFrom(outcome as Record<string, unknown>);
  const faultFor = (request: ChaosRequest): Error | undefined => {
    if (fault === undefined) return undefined;
    if (fault === true) return networkError();
    if (typeof fault === 'string') return networkError(fault);
    if (fault instanceof Error) return fault;
    const made = fault(request);
    if (made !== undefined && !(made instanceof Error)) fail('fault()', 'an Error or undefined', made);
    return made;
  };
  const outcomeFor = async (request: ChaosRequest): Promise<Response | undefined> => {
    if (outcome === undefined) return undefined;
    if (typeof outcome !== 'function') return (answer as () => Response)();
    const made = await outcome(request);
    if (made !== undefined && !(made instanceof Response)) fail('outcome()', 'a Response or undefined', made);
    return made;
  };

  const draw = mulberry32(seed);
  const stats: ChaosStats = { calls: 0, injected: 0, faults: 0, latencies: 0, outcomes: 0, behaviors: 0, passedThrough: 0 };
  const passThrough = (input: string | URL | Request, init: RequestInit | undefined): Promise<Response> => {
    const target = wrapped ?? (globalThis.fetch as FetchLike | undefined);
    if (typeof target !== 'function')
      return Promise.reject(new TypeError('chaos: there is no globalThis.fetch to pass through to'));
    stats.passedThrough++;
    return target(input, init);
  };

  // Named `fetch`, with `init` defaulted so `length` is 1, as WHATWG fetch's.
  async function fetch(input: string | URL | Request, init: RequestInit | undefined = undefined): Promise<Response> {
    const index = stats.calls++;
    // Drawn before anything awaits: call n's draw is the seed's n-th, whatever the calls' timing.
    const roll = draw();
    let view: ChaosRequest | undefined;
    const request = (): ChaosRequest =>
      (view ??= {
        url: input instanceof Request ? input.url : String(input),
        method: methodOf(input, init),
        headers: new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined)),
        index,
      });
    const on = typeof enabled === 'boolean' ? enabled : await enabled(request());
    if (typeof on !== 'boolean') fail('enabled()', 'a boolean', on);
    if (!on) return passThrough(input, init);
    const share = typeof rate === 'number' ? rate : await rate(request());
    if (!isRate(share)) fail('rate()', 'a number in [0, 1]', share, RangeError);
    if (!(roll < share)) return passThrough(input, init);

    stats.injected++;
    const signal = init?.signal !== undefined ? init.signal : input instanceof Request ? input.signal : null;
    signal?.throwIfAborted();
    if (behavior) {
      stats.behaviors++;
      await behavior(request());
    }
    const ms = latency === undefined ? 0 : typeof latency === 'number' ? latency : latency(request());
    if (!isDelay(ms)) fail('latency()', 'a finite number >= 0', ms, RangeError);
    const error = faultFor(request());
    const response = error ? undefined : await outcomeFor(request());
    onInjected?.({
      request: request(),
      latency: ms,
      ...(error && { fault: error }),
      ...(response && { status: response.status }),
    });
    if (latency !== undefined) {
      stats.latencies++;
      await delay(ms, signal ?? undefined);
    }
    if (error) {
      stats.faults++;
      throw error;
    }
    if (response) {
      signal?.throwIfAborted();
      stats.outcomes++;
      // As fetch's own: `url` set, headers immutable. A Response a function made keeps its own url if it has one.
      const url = URL.canParse(request().url) ? new URL(request().url) : null;
      return response.url === '' && url ? asFetchResponse(response, url, false, 'basic') : response;
    }
    return passThrough(input, init);
  }

  return Object.assign(fetch, { seed, stats: (): ChaosStats => ({ ...stats }) });
};
