/**
 * Property tests (fast-check) for the pure parts: back-off bounds for every jitter kind, host
 * matching and policy merging, Retry-After parsing, and option validation. A failing property
 * prints its seed and counterexample; `fc.assert(..., { seed })` replays it.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { backoffDelay } from '../../src/policy/backoff.js';
import { createFetch } from '../../src/client.js';
import { DEFAULTS } from '../../src/defaults.js';
import type { BackoffOptions, Jitter, Policy, ResolvedBackoff } from '../../src/options.js';
import { createHostMatcher, createPolicyResolver } from '../../src/resolve-policy.js';
import { parseRetryAfter } from '../../src/policy/retry-after.js';

const RUNS = { numRuns: 300 };
const JITTERS: readonly Jitter[] = ['full', 'equal', 'decorrelated', 'none'];

const backoffArb = fc.record({
  base: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1e6, noNaN: true })),
  max: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1e7, noNaN: true })),
  factor: fc.double({ min: 1, max: 100, noNaN: true }),
  jitter: fc.constantFrom(...JITTERS),
});
const unit = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

describe('backoff: bounds and caps for every jitter kind', () => {
  test('every delay is finite, >= 0 and <= max, whatever the retry number, previous delay and random draw', () => {
    fc.assert(
      fc.property(
        backoffArb,
        fc.integer({ min: 1, max: 100_000 }),
        fc.double({ min: 0, max: 1e15, noNaN: true }),
        unit,
        (backoff, retry, previous, r) => {
          const delay = backoffDelay(backoff as ResolvedBackoff, retry, previous, () => r);
          expect(Number.isFinite(delay)).toBe(true);
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThanOrEqual(backoff.max);
        },
      ),
      RUNS,
    );
  });

  test('equal jitter never rounds past max (CI fuzz seed 1882832618: subnormal base and max)', () => {
    const backoff = { base: 5e-324, max: 1.5e-323, factor: 1.0003232588442463, jitter: 'equal' } as const;
    expect(backoffDelay(backoff, 2_836, 0, () => 0.8333333333333334)).toBeLessThanOrEqual(backoff.max);
  });

  test('each jitter stays inside its own band of the exponential ceiling', () => {
    fc.assert(
      fc.property(
        backoffArb,
        fc.integer({ min: 1, max: 64 }),
        fc.double({ min: 0, max: 1e6, noNaN: true }),
        unit,
        (backoff, retry, previous, r) => {
          const delay = backoffDelay(backoff as ResolvedBackoff, retry, previous, () => r);
          const ceiling = backoff.base === 0 ? 0 : Math.min(backoff.max, backoff.base * backoff.factor ** (retry - 1));
          const close = (x: number) => x * (1 + 1e-9) + 1e-9;
          switch (backoff.jitter) {
            case 'none':
              expect(delay).toBeCloseTo(ceiling, 6);
              break;
            case 'full':
              expect(delay).toBeLessThanOrEqual(close(ceiling));
              break;
            case 'equal':
              expect(delay).toBeGreaterThanOrEqual(ceiling / 2 - 1e-9);
              expect(delay).toBeLessThanOrEqual(close(ceiling));
              break;
            case 'decorrelated':
              // AWS: min(cap, random_between(base, previous · 3)).
              expect(delay).toBeGreaterThanOrEqual(Math.min(backoff.base, backoff.max) - 1e-9);
              expect(delay).toBeLessThanOrEqual(
                close(Math.min(backoff.max, Math.max(backoff.base, (previous || backoff.base) * 3))),
              );
              break;
          }
        },
      ),
      RUNS,
    );
  });

  test("'none' never shrinks from one retry to the next, and reaches max", () => {
    fc.assert(
      fc.property(backoffArb, fc.integer({ min: 1, max: 200 }), (backoff, retry) => {
        const b = { ...backoff, jitter: 'none' } as Required<BackoffOptions>;
        expect(backoffDelay(b, retry + 1, 0)).toBeGreaterThanOrEqual(backoffDelay(b, retry, 0));
        if (b.base > 0 && b.factor > 1.01) expect(backoffDelay(b, 100_000, 0)).toBe(b.max);
      }),
      RUNS,
    );
  });

  test('a back-off function returning anything gives a finite delay >= 0', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.double(), fc.constantFrom(NaN, -1, Infinity, -Infinity)),
        fc.integer({ min: 1, max: 50 }),
        (value, retry) => {
          const delay = backoffDelay(() => value, retry, 0);
          expect(Number.isFinite(delay) && delay >= 0).toBe(true);
        },
      ),
      RUNS,
    );
  });

  test('issue-6: base 0 with a large retry number is 0, not NaN', () => {
    for (const jitter of JITTERS) {
      expect(backoffDelay({ base: 0, max: 1_000, factor: 10, jitter }, 400, 0, () => 0.5)).toBe(0);
    }
  });
});

describe('Retry-After parsing', () => {
  const NOW = Date.UTC(2026, 10, 23, 9, 0, 0);

  test('delay-seconds: n seconds is n · 1000 ms', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 ** 9 }), fc.constantFrom('', ' ', '\t'), (n, pad) => {
        expect(parseRetryAfter(`${pad}${n}${pad}`, NOW)).toBe(n * 1_000);
      }),
      RUNS,
    );
  });

  test('huge digit strings parse to a finite delay no smaller than a year (so maxRetryAfter caps them)', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[1-9][0-9]{8,400}$/), (digits) => {
        const ms = parseRetryAfter(digits, NOW);
        expect(Number.isFinite(ms)).toBe(true);
        expect(ms).toBeGreaterThanOrEqual(365 * 24 * 3_600 * 1_000 - 1);
      }),
      RUNS,
    );
  });

  test('negative, fractional, signed and empty values are malformed (undefined)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 ** 6 }), fc.integer({ min: 1, max: 99 }), (n, f) => {
        for (const text of [`-${n}`, `+${n}`, `${n}.${f}`, `${n}e3`, `0x${n}`, '', '   ']) {
          expect(parseRetryAfter(text, NOW)).toBeUndefined();
        }
      }),
      RUNS,
    );
  });

  test('garbage never throws and never yields NaN, a negative or an infinite delay', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.stringMatching(/^[A-Za-z]{3,9},? .{0,40}$/)),
        (text) => {
          const ms = parseRetryAfter(text, NOW);
          if (ms !== undefined) {
            expect(Number.isFinite(ms)).toBe(true);
            expect(ms).toBeGreaterThanOrEqual(0);
          }
        },
      ),
      { numRuns: 1_000 },
    );
  });

  // RFC 9110 §5.6.7: recipients accept IMF-fixdate, the obsolete RFC 850 form and asctime.
  const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
  const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const two = (n: number) => String(n).padStart(2, '0');
  const time = (d: Date) => `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
  const formats = (d: Date) => [
    d.toUTCString(),
    `${WEEKDAYS[d.getUTCDay()]}, ${two(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${two(d.getUTCFullYear() % 100)} ${time(d)} GMT`,
    `${WEEKDAYS[d.getUTCDay()]!.slice(0, 3)} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${time(d)} ${d.getUTCFullYear()}`,
  ];
  // Two-digit RFC 850 years are only unambiguous within 50 years of now.
  const dates = fc
    .integer({ min: Date.UTC(1995, 0, 1) / 1_000, max: Date.UTC(2045, 0, 1) / 1_000 })
    .map((s) => new Date(s * 1_000));

  test('HTTP dates in all three formats give the same delay: max(0, date − now)', () => {
    fc.assert(
      fc.property(dates, (date) => {
        for (const text of formats(date)) expect(parseRetryAfter(text, NOW), text).toBe(Math.max(0, date.getTime() - NOW));
      }),
      RUNS,
    );
  });

  test('issue-6: an RFC 850 date (Sunday, 06-Nov-94 ...) is honoured, not dropped as malformed', () => {
    const now = Date.UTC(1994, 10, 6, 8, 49, 0);
    expect(parseRetryAfter('Sunday, 06-Nov-94 08:49:37 GMT', now)).toBe(37_000);
  });

  test('issue-6: an asctime date is read as GMT whatever the local time zone', () => {
    const tz = process.env.TZ;
    process.env.TZ = 'Asia/Tokyo';
    try {
      const now = Date.UTC(1994, 10, 6, 8, 49, 0);
      expect(parseRetryAfter('Sun Nov  6 08:49:37 1994', now)).toBe(37_000);
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
  });

  test('a date a year ahead parses to about a year, so maxRetryAfter applies', () => {
    const year = 365 * 24 * 3_600 * 1_000;
    expect(parseRetryAfter(new Date(NOW + year).toUTCString(), NOW)).toBe(year);
    expect(parseRetryAfter(String(year / 1_000), NOW)).toBe(year);
  });
});

describe('host matching', () => {
  const label = fc.constantFrom('a', 'b', 'api', 'svc', 'x-1', 'internal', 'example');
  const hostname = fc.array(label, { minLength: 1, maxLength: 4 }).map((labels) => labels.join('.'));
  const port = fc.oneof(fc.constant(80), fc.integer({ min: 1_024, max: 65_535 }));
  const patternFor = (name: string, p: number, kind: number, cut: number) => {
    const labels = name.split('.');
    const suffix = labels.slice(Math.min(cut, labels.length - 1)).join('.');
    return [name, `${name}:${p}`, `*.${suffix}`, `*.${suffix}:${p}`][kind]!;
  };
  const patterns = fc.uniqueArray(
    fc
      .tuple(hostname, port, fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.boolean())
      .map(([h, p, kind, cut, upper]) => {
        const pattern = patternFor(h, p, kind, cut);
        return upper ? pattern.toUpperCase() : pattern;
      }),
    { maxLength: 12, selector: (pattern) => pattern.toLowerCase() },
  );

  test('exact host:port, then exact hostname, then the longest matching *.suffix; a wildcard needs a label boundary', () => {
    fc.assert(
      fc.property(patterns, hostname, port, (keys, name, p) => {
        const hosts: Record<string, Policy> = {};
        for (const key of keys) hosts[key] = { maxBufferBytes: keys.indexOf(key) };
        const match = createHostMatcher(hosts);
        const found = match(new URL(`http://${name}:${p}/`));
        const lower = keys.map((k) => k.toLowerCase());
        const pick = (key: string) => hosts[keys[lower.indexOf(key)]!];
        if (lower.includes(`${name}:${p}`)) {
          expect(found).toBe(pick(`${name}:${p}`));
          return;
        }
        if (lower.includes(name)) {
          expect(found).toBe(pick(name));
          return;
        }
        const wildcards = lower
          .filter((k) => k.startsWith('*.'))
          .map((k) => ({ key: k, suffix: k.slice(1).replace(/:\d+$/, ''), port: /:(\d+)$/.exec(k)?.[1] }))
          .filter(
            (w) => `.${name}`.endsWith(w.suffix) && name !== w.suffix.slice(1) && (w.port === undefined || Number(w.port) === p),
          );
        if (wildcards.length === 0) {
          expect(found).toBeUndefined();
          return;
        }
        const longest = Math.max(...wildcards.map((w) => w.suffix.length));
        const best = wildcards.filter((w) => w.suffix.length === longest);
        expect(best.map((w) => pick(w.key))).toContain(found);
        // At equal length, a pattern naming the port is the more specific one.
        if (best.some((w) => w.port !== undefined))
          expect(best.filter((w) => w.port !== undefined).map((w) => pick(w.key))).toContain(found);
      }),
      { numRuns: 500 },
    );
  });
});

describe('host matching: cases', () => {
  test('a wildcard with a port ranks by its hostname suffix: *.b.api beats *.api:80 (CI seed 1622943983)', () => {
    const hosts: Record<string, Policy> = {
      '*.b.api': { maxBufferBytes: 1 },
      '*.api:80': { maxBufferBytes: 2 },
      '*.b.api:80': { maxBufferBytes: 3 },
    };
    const match = createHostMatcher(hosts);
    expect(match(new URL('http://a.b.api:8080/'))).toBe(hosts['*.b.api']);
    expect(match(new URL('http://a.b.api/'))).toBe(hosts['*.b.api:80']);
    expect(match(new URL('http://a.c.api/'))).toBe(hosts['*.api:80']);
    const noTie = createHostMatcher({ '*.b.api': hosts['*.b.api']!, '*.api:80': hosts['*.api:80']! });
    expect(noTie(new URL('http://a.b.api/'))).toBe(hosts['*.b.api']);
  });

  test('issue-6: a pattern naming the default port matches the URL without it (URL.host drops :80 and :443)', () => {
    const hosts: Record<string, Policy> = {
      'api.example.com:443': { maxBufferBytes: 1 },
      'api.example.com:80': { maxBufferBytes: 2 },
      '*.svc:443': { maxBufferBytes: 3 },
    };
    const match = createHostMatcher(hosts);
    expect(match(new URL('https://api.example.com/x'))).toBe(hosts['api.example.com:443']);
    expect(match(new URL('http://api.example.com/x'))).toBe(hosts['api.example.com:80']);
    expect(match(new URL('https://api.example.com:443/x'))).toBe(hosts['api.example.com:443']);
    expect(match(new URL('https://a.svc/'))).toBe(hosts['*.svc:443']);
    expect(match(new URL('http://a.svc/'))).toBeUndefined();
    expect(match(new URL('https://api.example.com:8443/'))).toBeUndefined();
    const resolve = createPolicyResolver({ hosts });
    expect(resolve(new URL('https://api.example.com/')).maxBufferBytes).toBe(1);
    expect(resolve(new URL('http://api.example.com/')).maxBufferBytes).toBe(2);
  });
});

describe('policy merging', () => {
  type Layered = {
    retry?: { limit?: number | undefined; backoff?: { base?: number | undefined; max?: number | undefined } | undefined } | false;
    timeout?: { attempt?: number | undefined; total?: number | undefined } | false;
    breaker?: { resetTimeout?: number | undefined; volumeThreshold?: number | undefined } | false;
  };
  const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
  const layer: fc.Arbitrary<Layered> = fc.record(
    {
      retry: fc.oneof(
        fc.constant(false as const),
        fc.record(
          {
            limit: maybe(fc.integer({ min: 0, max: 9 })),
            backoff: maybe(
              fc.record(
                { base: maybe(fc.integer({ min: 0, max: 500 })), max: maybe(fc.integer({ min: 0, max: 9_000 })) },
                { requiredKeys: [] },
              ),
            ),
          },
          { requiredKeys: [] },
        ),
      ),
      timeout: fc.oneof(
        fc.constant(false as const),
        fc.record(
          { attempt: maybe(fc.integer({ min: 1, max: 9_000 })), total: maybe(fc.integer({ min: 1, max: 90_000 })) },
          { requiredKeys: [] },
        ),
      ),
      breaker: fc.oneof(
        fc.constant(false as const),
        fc.record(
          { resetTimeout: maybe(fc.integer({ min: 1, max: 60_000 })), volumeThreshold: maybe(fc.integer({ min: 0, max: 100 })) },
          { requiredKeys: [] },
        ),
      ),
    },
    { requiredKeys: [] },
  );
  // Drops `undefined` values, as a user's object literal would not have them.
  const clean = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

  /** The value a field ends with: the last layer's value after the last `false`, else the default. */
  const expected = (
    layers: Layered[],
    name: 'retry' | 'timeout' | 'breaker',
    get: (l: Record<string, unknown>) => unknown,
    fallback: unknown,
  ) => {
    let value: unknown = fallback;
    let off = false;
    for (const l of layers) {
      const entry = l[name];
      if (entry === false) {
        off = true;
        value = fallback;
      } else if (entry !== undefined) {
        off = false;
        const v = get(entry as Record<string, unknown>);
        if (v !== undefined) value = v;
      }
    }
    return off ? false : value;
  };

  test('defaults → hosts → per-request merge field by field; false switches a layer off; inputs untouched; output frozen', () => {
    fc.assert(
      fc.property(layer, layer, fc.option(layer, { nil: undefined }), (rawDefaults, rawHost, rawOverride) => {
        const [defaults, host, override] = [clean(rawDefaults), clean(rawHost), rawOverride && clean(rawOverride)];
        const before = JSON.stringify([defaults, host, override]);
        const resolve = createPolicyResolver({ defaults: defaults as Policy, hosts: { 'api.example:8443': host as Policy } });
        const resolved = resolve(new URL('http://api.example:8443/x'), override as Policy | undefined);
        expect(JSON.stringify([defaults, host, override])).toBe(before);
        expect(Object.isFrozen(resolved)).toBe(true);
        const layers = [defaults, host, ...(override ? [override] : [])];

        const limit = expected(layers, 'retry', (r) => r.limit, DEFAULTS.retry.limit);
        const base = expected(
          layers,
          'retry',
          (r) => (r.backoff as { base?: number } | undefined)?.base,
          DEFAULTS.retry.backoff.base,
        );
        const max = expected(
          layers,
          'retry',
          (r) => (r.backoff as { max?: number } | undefined)?.max,
          DEFAULTS.retry.backoff.max,
        );
        if (limit === false) expect(resolved.retry).toBe(false);
        else {
          expect(resolved.retry && resolved.retry.limit).toBe(limit);
          expect(resolved.retry && resolved.retry.backoff).toMatchObject({ base, max });
          expect(Object.isFrozen(resolved.retry)).toBe(true);
        }
        const attempt = expected(layers, 'timeout', (t) => t.attempt, DEFAULTS.timeout.attempt);
        const total = expected(layers, 'timeout', (t) => t.total, DEFAULTS.timeout.total);
        expect(resolved.timeout).toEqual(attempt === false ? { attempt: false, total: false } : { attempt, total });
        const resetTimeout = expected(layers, 'breaker', (b) => b.resetTimeout, DEFAULTS.breaker.resetTimeout);
        const volume = expected(layers, 'breaker', (b) => b.volumeThreshold, DEFAULTS.breaker.volumeThreshold);
        if (resetTimeout === false) expect(resolved.breaker).toBe(false);
        else expect(resolved.breaker).toMatchObject({ resetTimeout, volumeThreshold: volume });
      }),
      { numRuns: 500 },
    );
  });

  test('a host without an entry gets the defaults merged over the built-in ones', () => {
    fc.assert(
      fc.property(layer, (raw) => {
        const defaults = clean(raw);
        const resolved = createPolicyResolver({ defaults: defaults as Policy, hosts: { 'other.example': { retry: false } } })(
          new URL('https://api.example/'),
        );
        const limit = expected([defaults], 'retry', (r) => r.limit, DEFAULTS.retry.limit);
        expect(resolved.retry === false ? false : resolved.retry.limit).toBe(limit);
      }),
      RUNS,
    );
  });
});

describe('option validation', () => {
  /** Resolves `defaults.retry.methods[2]` / `hosts["a.com"].retry` in `root`: does the named field exist? */
  const pathExists = (root: unknown, fieldPath: string): boolean => {
    let path = fieldPath;
    if (path === 'options') return true;
    if (path.startsWith('options[')) path = path.slice('options'.length);
    const parts = [...path.matchAll(/(?:^|\.)([A-Za-z_$][\w$]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/g)];
    if (parts.map((m) => m[0]).join('') !== path) return false;
    let value: unknown = root;
    for (const m of parts) {
      const key = m[1] ?? m[2] ?? (JSON.parse(m[3]!) as string);
      if (value === null || typeof value !== 'object' || !Object.prototype.hasOwnProperty.call(value, key)) return false;
      value = (value as Record<string, unknown>)[key];
    }
    return true;
  };

  const checkOutcome = async (options: unknown) => {
    let fetch: ReturnType<typeof createFetch> | undefined;
    try {
      fetch = createFetch(options as never);
    } catch (error) {
      expect(error instanceof TypeError || error instanceof RangeError, String(error)).toBe(true);
      const message = (error as Error).message;
      const path = /^(.*?) (?:must be|is not a|repeats a)/s.exec(message)?.[1] ?? '';
      expect(pathExists(options, path), `"${message}" should start with a field path of the input`).toBe(true);
      return;
    }
    expect(typeof fetch).toBe('function');
    await fetch.close();
  };

  const any = fc.anything({
    withBoxedValues: true,
    withMap: true,
    withSet: true,
    withNullPrototype: true,
    withDate: true,
    withTypedArray: true,
    withBigInt: true,
    withSparseArray: true,
    maxDepth: 3,
  });
  const orAny = <T>(arb: fc.Arbitrary<T>) => fc.oneof({ weight: 4, arbitrary: arb }, { weight: 1, arbitrary: any });
  const num = orAny(fc.oneof(fc.integer({ min: -5, max: 20_000 }), fc.double(), fc.constantFrom(0, 1, 0.5, -1, NaN, Infinity)));
  const methods = orAny(fc.array(orAny(fc.constantFrom('GET', 'post', 'PUT', 'BAD METHOD', '')), { maxLength: 3 }));
  const statuses = orAny(fc.array(orAny(fc.constantFrom(200, 503, 99, 600, 429.5)), { maxLength: 3 }));
  const opt = <T>(shape: { [K in keyof T]: fc.Arbitrary<T[K]> }) => orAny(fc.record(shape, { requiredKeys: [] }));
  const policy = opt({
    retry: orAny(
      fc.oneof(
        fc.constant(false),
        opt({
          limit: num,
          methods,
          statusCodes: statuses,
          errorCodes: orAny(fc.array(fc.constantFrom('ECONNRESET', ''))),
          backoff: orAny(
            fc.oneof(
              fc.constant((n: number) => n),
              opt({
                base: num,
                max: num,
                factor: num,
                jitter: orAny(fc.constantFrom('full', 'equal', 'decorrelated', 'none', 'wild')),
              }),
            ),
          ),
          maxRetryAfter: num,
          budget: orAny(fc.oneof(fc.constant(false), opt({ ratio: num, minPerSecond: num, window: num }))),
          shouldRetry: orAny(fc.constant(() => undefined)),
        }),
      ),
    ),
    hedge: orAny(
      fc.oneof(
        fc.constant(false),
        opt({
          delay: orAny(fc.oneof(num, fc.constant('auto'), opt({ percentile: num, min: num, max: num }))),
          maxHedges: num,
          methods,
          budget: orAny(fc.oneof(fc.constant(false), num)),
        }),
      ),
    ),
    breaker: orAny(
      fc.oneof(
        fc.constant(false),
        opt({
          errorThresholdPercentage: num,
          volumeThreshold: num,
          resetTimeout: num,
          rollingCountTimeout: num,
          rollingCountBuckets: num,
          failureStatusCodes: statuses,
          fallback: orAny(fc.constant(() => new Response())),
        }),
      ),
    ),
    timeout: orAny(
      fc.oneof(
        fc.constant(false),
        opt({ attempt: orAny(fc.oneof(fc.constant(false), num)), total: orAny(fc.oneof(fc.constant(false), num)) }),
      ),
    ),
    throttle: orAny(fc.oneof(fc.constant(false), opt({ k: num, window: num }))),
    maxBufferBytes: num,
    upstreams: orAny(
      fc.array(orAny(fc.constantFrom('http://10.0.0.1:8080', 'https://a.example', 'ftp://x', 'http://a/b', 'nope')), {
        maxLength: 2,
      }),
    ),
  });
  const hostKey = fc.constantFrom(
    'api.example.com',
    '*.internal',
    'svc:8080',
    'API.example.com',
    'bad host',
    '*.',
    'x:99999',
    '[::1]:8080',
  );
  const options = opt({
    fetch: orAny(fc.constant(async () => new Response('ok'))),
    defaults: policy,
    hosts: orAny(fc.dictionary(hostKey, policy, { maxKeys: 3 })),
    onEvent: orAny(fc.constant(() => {})),
    maxHosts: num,
    typo: fc.constant(1),
  });

  test('any input: createFetch accepts it, or throws a TypeError/RangeError that starts with the field path', async () => {
    await fc.assert(fc.asyncProperty(any, checkOutcome), { numRuns: 300 });
  });

  test('near-valid options: accepted, or rejected naming the exact field that is wrong', async () => {
    await fc.assert(fc.asyncProperty(options, checkOutcome), { numRuns: 1_500 });
  });

  test('issue-6: a Map, Date, typed array or class instance is not taken for an options object', () => {
    expect(() => createFetch(new Map([['maxHosts', 0]]) as never)).toThrow(/^options must be an object, got an object/);
    expect(() => createFetch({ defaults: new Date() } as never)).toThrow(TypeError);
    expect(() => createFetch({ defaults: { retry: new Int16Array(1) } } as never)).toThrow(/^defaults\.retry must be/);
    expect(() => createFetch({ hosts: { 'a.com': { breaker: new (class Options {})() } } } as never)).toThrow(
      /^hosts\["a\.com"\]\.breaker must be/,
    );
  });

  test('issue-6: an unknown key that is not an identifier is named in brackets', () => {
    expect(() => createFetch({ defaults: { 'max buffer': 1 } } as never)).toThrow(
      /^defaults\["max buffer"\] is not a known option/,
    );
    expect(() => createFetch({ '': 1 } as never)).toThrow(/^options\[""\] is not a known option/);
  });

  test('a key named after an Object.prototype member is unknown, not a check (fuzz seed 267468089)', () => {
    expect(() => createFetch(JSON.parse('{"__proto__":0}') as never)).toThrow(/^__proto__ is not a known option/);
    expect(() => createFetch(JSON.parse('{"defaults":{"retry":{"__proto__":1}}}') as never)).toThrow(
      /^defaults\.retry\.__proto__ is not a known option/,
    );
    expect(() => createFetch({ defaults: { toString: 1 } } as never)).toThrow(/^defaults\.toString is not a known option/);
    expect(() => createFetch({ defaults: { timeout: { hasOwnProperty: 1 } } } as never)).toThrow(
      /^defaults\.timeout\.hasOwnProperty is not a known option/,
    );
  });

  test('the path check itself works on nested fields', () => {
    const input = { hosts: { 'a.com': { retry: { methods: ['GET', 1] } } } };
    expect(pathExists(input, 'hosts["a.com"].retry.methods[1]')).toBe(true);
    expect(pathExists(input, 'hosts["b.com"].retry')).toBe(false);
    expect(() => createFetch(input as never)).toThrow(/^hosts\["a\.com"\]\.retry\.methods\[1\] must be/);
  });
});
