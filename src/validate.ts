/**
 * Option validation. Every error names the option path and the value it got:
 * `hosts["a.com"].retry.limit must be an integer >= 0, got -1`.
 */
import type { Policy, ResilientFetchOptions } from './options.js';

type Check = (value: unknown, path: string) => void;
type Shape = Readonly<Record<string, Check>>;

const show = (value: unknown): string => {
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return 'an array';
  if (value === null || typeof value !== 'object') return String(value);
  return 'an object';
};

const fail = (path: string, expected: string, value: unknown, Kind = TypeError): never => {
  throw new Kind(`${path} must be ${expected}, got ${show(value)}`);
};

/** An object literal (or a null-prototype object): not an array, Map, Date, typed array or boxed value. */
const isPlainObject = (value: unknown): value is Record<string, unknown> => {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
};

/** `path.key`, or `path["odd key"]` when the key is not an identifier. */
const childPath = (path: string, key: string): string =>
  /^[A-Za-z_$][\w$]*$/.test(key) ? (path ? `${path}.${key}` : key) : `${path || 'options'}[${JSON.stringify(key)}]`;

const number =
  (min: number, max = Infinity, { integer = false, exclusiveMin = false } = {}): Check =>
  (value, path) => {
    const expected =
      `${integer ? 'an integer' : 'a number'} ${exclusiveMin ? '>' : '>='} ${min}` + (max === Infinity ? '' : ` and <= ${max}`);
    if (typeof value !== 'number' || Number.isNaN(value)) fail(path, expected, value);
    const n = value as number;
    const ok = (exclusiveMin ? n > min : n >= min) && n <= max && (!integer || Number.isInteger(n));
    if (!ok || !Number.isFinite(n)) fail(path, expected, value, RangeError);
  };

const func: Check = (value, path) => {
  if (typeof value !== 'function') fail(path, 'a function', value);
};

const oneOf =
  (...allowed: readonly unknown[]): Check =>
  (value, path) => {
    if (!allowed.includes(value)) fail(path, `one of ${allowed.map(show).join(', ')}`, value);
  };

const either =
  (expected: string, ...checks: readonly Check[]): Check =>
  (value, path) => {
    for (const check of checks) {
      try {
        check(value, path);
        return;
      } catch (error) {
        // An object of the right kind with a bad field says which field: report that one.
        if (isPlainObject(value) && error instanceof Error && !error.message.startsWith(`${path} must`)) throw error;
      }
    }
    fail(path, expected, value);
  };

const listOf =
  (item: Check, what: string): Check =>
  (value, path) => {
    if (!Array.isArray(value)) fail(path, `an array of ${what}`, value);
    (value as unknown[]).forEach((entry, index) => item(entry, `${path}[${index}]`));
  };

const object =
  (shape: Shape): Check =>
  (value, path) => {
    if (!isPlainObject(value)) fail(path, 'an object', value);
    for (const [key, entry] of Object.entries(value as Record<string, unknown>)) {
      // Own keys only: `__proto__` (JSON.parse makes it an own key) must not find Object.prototype.
      const check = Object.hasOwn(shape, key) ? shape[key] : undefined;
      const keyPath = childPath(path, key);
      if (!check) {
        throw new TypeError(`${keyPath} is not a known option (known: ${Object.keys(shape).join(', ')})`);
      }
      if (entry !== undefined) check(entry, keyPath);
    }
  };

const off = oneOf(false);
const orOff = (check: Check, expected: string): Check => either(`${expected} or false`, off, check);
/** A layer: its options object, `true` (on with its defaults) or `false` (off). */
const layer = (shape: Shape, expected = 'an object, true or false'): Check => either(expected, oneOf(true, false), object(shape));

const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const method: Check = (value, path) => {
  if (typeof value !== 'string' || !METHOD.test(value)) fail(path, 'an HTTP method name', value);
};
const headerName: Check = (value, path) => {
  if (typeof value !== 'string' || !METHOD.test(value)) fail(path, 'an HTTP header name', value);
};
const status = number(100, 599, { integer: true });
const code: Check = (value, path) => {
  if (typeof value !== 'string' || value === '') fail(path, 'a non-empty error code string', value);
};
const ms = number(0);
const positiveMs = number(0, Infinity, { exclusiveMin: true });
const ratio = number(0, 1);

const origin: Check = (value, path) => {
  let url: URL | undefined;
  try {
    url = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.pathname !== '/' || url.search) {
    fail(path, 'an http(s) origin such as "http://10.0.0.1:8080"', value);
  }
};

/** `retry.budget` and `hedge.budget`: a ratio, `{ ratio, minPerSecond, window }` or `false`. */
const BUDGET_OBJECT = object({ ratio, minPerSecond: number(0), window: positiveMs });
const budget: Check = (value, path) => {
  // A number is the ratio, and gets the ratio's own message.
  if (typeof value === 'number') return ratio(value, path);
  if (value === false) return;
  if (!isPlainObject(value)) fail(path, 'a ratio between 0 and 1, an object { ratio, minPerSecond, window } or false', value);
  BUDGET_OBJECT(value, path);
};

const RETRY_EXPECTED = 'a retry limit (an integer >= 0), an object, true or false';
const RETRY = layer(
  {
    limit: number(0, Infinity, { integer: true }),
    methods: listOf(method, 'HTTP method names'),
    statusCodes: listOf(status, 'status codes'),
    errorCodes: listOf(code, 'error codes'),
    backoff: either(
      'an object { base, max, factor, jitter } or a function',
      func,
      object({ base: ms, max: ms, factor: number(1), jitter: oneOf('full', 'equal', 'decorrelated', 'none') }),
    ),
    maxRetryAfter: ms,
    budget,
    shouldRetry: func,
  },
  RETRY_EXPECTED,
);

/** `retry`: its options, `true`, `false`, or a number that is the limit (`retry: 3` is `{ limit: 3 }`). */
const retry: Check = (value, path) => {
  if (typeof value !== 'number') return RETRY(value, path);
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`${path} must be ${RETRY_EXPECTED}, got ${show(value)}`);
  }
};

const POLICY: Shape = {
  retry,
  hedge: layer({
    delay: either(
      'a number of milliseconds >= 0, "auto" or { percentile, min, max }',
      ms,
      oneOf('auto'),
      object({ percentile: number(0, 100, { exclusiveMin: true }), min: ms, max: ms }),
    ),
    maxHedges: number(1, 10, { integer: true }),
    methods: listOf(method, 'HTTP method names'),
    budget,
  }),
  breaker: layer({
    errorThresholdPercentage: number(0, 100, { exclusiveMin: true }),
    volumeThreshold: number(0, Infinity, { integer: true }),
    resetTimeout: positiveMs,
    maxResetTimeout: positiveMs,
    rollingCountTimeout: positiveMs,
    rollingCountBuckets: number(1, Infinity, { integer: true }),
    failureStatusCodes: listOf(status, 'status codes'),
    fallback: func,
  }),
  timeout: layer({ attempt: orOff(positiveMs, 'a number > 0'), total: orOff(positiveMs, 'a number > 0') }),
  throttle: layer({ k: number(1), window: positiveMs, maxProbability: ratio }),
  maxBufferBytes: number(0, Infinity, { integer: true }),
  upstreams: listOf(origin, 'http(s) origins'),
  balance: oneOf('least-request', 'round-robin'),
  outlierDetection: layer({
    consecutiveFailures: number(1, Infinity, { integer: true }),
    baseEjectionTime: positiveMs,
    maxEjectionTime: positiveMs,
    maxEjectionPercent: number(0, 100),
  }),
  bulkhead: layer({
    maxConcurrent: either('an integer >= 1 or "auto"', number(1, Infinity, { integer: true }), oneOf('auto')),
    maxQueued: number(0, Infinity, { integer: true }),
    queueTimeout: positiveMs,
  }),
  deadlineHeader: orOff(headerName, 'an HTTP header name'),
  attemptHeader: orOff(headerName, 'an HTTP header name'),
};

const policy = object(POLICY);

/** Throws a TypeError or RangeError naming the field when `value` is not a valid policy. */
export const validatePolicy = (value: unknown, path: string): Policy => {
  policy(value, path);
  const delay = (value as Policy).hedge && ((value as Policy).hedge as { delay?: unknown }).delay;
  if (isPlainObject(delay) && typeof delay.min === 'number' && typeof delay.max === 'number' && delay.min > delay.max) {
    throw new RangeError(`${path}.hedge.delay.min must be <= max, got ${delay.min} > ${delay.max}`);
  }
  const breaker = (value as Policy).breaker;
  if (typeof breaker === 'object') {
    const { rollingCountTimeout, rollingCountBuckets, resetTimeout, maxResetTimeout } = breaker;
    if (
      rollingCountTimeout !== undefined &&
      rollingCountBuckets !== undefined &&
      rollingCountTimeout % rollingCountBuckets !== 0
    ) {
      throw new RangeError(`${path}.breaker.rollingCountTimeout must be divisible by rollingCountBuckets`);
    }
    if (resetTimeout !== undefined && maxResetTimeout !== undefined && resetTimeout > maxResetTimeout) {
      throw new RangeError(`${path}.breaker.resetTimeout must be <= maxResetTimeout, got ${resetTimeout} > ${maxResetTimeout}`);
    }
  }
  return value as Policy;
};

const LABEL = '[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?';
const HOST_PATTERN = new RegExp(`^(?:\\*\\.)?(?:${LABEL}(?:\\.${LABEL})*|\\[[0-9a-f:.]+\\])(?::(?:[1-9][0-9]{0,4}))?$`);

/** Throws when `key` is not `host`, `host:port` or `*.suffix[:port]` (lower case is applied first). */
export const validateHostPattern = (key: string, path: string): string => {
  const normalised = key.toLowerCase();
  const port = /:(\d+)$/.exec(normalised)?.[1];
  if (!HOST_PATTERN.test(normalised) || (port !== undefined && Number(port) > 65_535)) {
    throw new TypeError(
      `${path} is not a valid host pattern: use "host", "host:port" or "*.suffix" (got ${JSON.stringify(key)})`,
    );
  }
  return normalised;
};

const TOP: Shape = {
  fetch: func,
  transport: (value, path) => {
    if (value === 'fetch') {
      throw new TypeError(
        `${path}: 'fetch' was renamed 'undici-fetch' (it is undici's own fetch, not the global fetch): use transport: 'undici-fetch'`,
      );
    }
    oneOf('dispatcher', 'undici-fetch')(value, path);
  },
  defaults: (value, path) => {
    validatePolicy(value, path);
    if ((value as Policy).upstreams !== undefined) {
      throw new TypeError(
        `${path}.upstreams is not allowed: in defaults it would send every host's traffic to those origins; put it under hosts (hosts: { "orders.svc:8080": { upstreams: [...] } })`,
      );
    }
  },
  hosts: (value, path) => {
    if (!isPlainObject(value)) fail(path, 'an object of host patterns', value);
    const seen = new Set<string>();
    for (const [key, entry] of Object.entries(value as Record<string, unknown>)) {
      const keyPath = `${path}[${JSON.stringify(key)}]`;
      const normalised = validateHostPattern(key, keyPath);
      if (seen.has(normalised)) throw new TypeError(`${keyPath} repeats a host pattern`);
      seen.add(normalised);
      validatePolicy(entry, keyPath);
    }
  },
  onEvent: func,
  maxHosts: number(1, Infinity, { integer: true }),
  dispatcher: (value, path) => {
    if (typeof value !== 'object' || value === null || typeof (value as { dispatch?: unknown }).dispatch !== 'function') {
      fail(path, 'an undici Dispatcher (Agent, ProxyAgent, MockAgent, ...: an object with a dispatch() method)', value);
    }
  },
};

/** Validates everything `createFetch` accepts; throws naming the field. */
export const validateOptions = (options: unknown): ResilientFetchOptions => {
  if (options === undefined) return {};
  if (!isPlainObject(options)) fail('options', 'an object', options);
  object(TOP)(options, '');
  const { fetch, dispatcher } = options as ResilientFetchOptions;
  if (fetch !== undefined && dispatcher !== undefined) {
    throw new TypeError(
      'dispatcher cannot be combined with fetch: the fetch option is the whole transport (give the dispatcher to that fetch)',
    );
  }
  return options as ResilientFetchOptions;
};
