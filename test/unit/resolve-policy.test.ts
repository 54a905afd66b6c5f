import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../src/defaults.js';
import { createHostMatcher, createPolicyResolver } from '../../src/resolve-policy.js';

const url = (href: string) => new URL(href);

describe('host matching', () => {
  const match = createHostMatcher({
    'api.example.com': { maxBufferBytes: 1 },
    'api.example.com:8443': { maxBufferBytes: 2 },
    '*.example.com': { maxBufferBytes: 3 },
    '*.eu.example.com': { maxBufferBytes: 4 },
    '*.internal:8080': { maxBufferBytes: 5 },
    '*.internal': { maxBufferBytes: 6 },
    'UPPER.example.org': { maxBufferBytes: 7 },
  });
  const size = (href: string) => match(url(href))?.maxBufferBytes;

  it('prefers host:port, then hostname, then the longest wildcard', () => {
    expect(size('https://api.example.com:8443/x')).toBe(2);
    expect(size('https://api.example.com/x')).toBe(1);
    expect(size('http://api.example.com:9999/x')).toBe(1);
    expect(size('https://db.eu.example.com/')).toBe(4);
    expect(size('https://db.us.example.com/')).toBe(3);
    expect(size('http://orders.internal:8080/')).toBe(5);
    expect(size('http://orders.internal:9090/')).toBe(6);
    expect(size('http://upper.example.org/')).toBe(7);
  });

  it('a wildcard does not match its own apex or a look-alike suffix', () => {
    expect(size('https://example.com/')).toBeUndefined();
    expect(size('https://notexample.com/')).toBeUndefined();
  });
});

describe('policy merging', () => {
  const resolve = createPolicyResolver({
    defaults: { retry: { limit: 4, backoff: { base: 10 } }, timeout: { total: 5_000 } },
    hosts: {
      'a.test': { retry: { backoff: { max: 50 } }, hedge: { delay: 20 } },
      'b.test': { retry: false, breaker: false },
    },
  });

  it('merges field by field over the defaults', () => {
    const policy = resolve(url('http://a.test/'));
    expect(policy.retry && policy.retry.limit).toBe(4);
    expect(policy.retry && policy.retry.backoff).toEqual({ ...DEFAULTS.retry.backoff, base: 10, max: 50 });
    expect(policy.timeout).toEqual({ attempt: DEFAULTS.timeout.attempt, total: 5_000 });
    expect(policy.hedge && policy.hedge.delay).toBe(20);
    expect(policy.hedge && [...policy.hedge.methods]).toEqual(['GET', 'HEAD']);
  });

  it('false switches a layer off; other hosts keep the defaults', () => {
    expect(resolve(url('http://b.test/')).retry).toBe(false);
    expect(resolve(url('http://b.test/')).breaker).toBe(false);
    expect(resolve(url('http://c.test/')).hedge).toBe(false);
    expect(resolve(url('http://c.test/')).breaker).toMatchObject({ volumeThreshold: DEFAULTS.breaker.volumeThreshold });
  });

  it('a per-request override merges last and can switch a layer back on', () => {
    const policy = resolve(url('http://b.test/'), { retry: { limit: 1 } });
    expect(policy.retry && policy.retry.limit).toBe(1);
    expect(policy.retry && policy.retry.backoff).toEqual(DEFAULTS.retry.backoff);
  });

  it('returns frozen policies, cached per host', () => {
    const policy = resolve(url('http://a.test/x'));
    expect(Object.isFrozen(policy)).toBe(true);
    expect(resolve(url('http://a.test/y'))).toBe(policy);
  });
});

describe('issue-16: one API for switching layers on and for budgets', () => {
  const resolveWith = (options: Parameters<typeof createPolicyResolver>[0], href = 'https://a.com/') =>
    createPolicyResolver(options)(url(href));

  it('true switches every layer on with its built-in defaults, as an empty object over an off layer does', () => {
    const off = { retry: false, hedge: false, breaker: false, timeout: false, throttle: false, outlierDetection: false } as const;
    const on = resolveWith({
      defaults: off,
      hosts: { 'a.com': { retry: true, hedge: true, breaker: true, timeout: true, throttle: true, outlierDetection: true } },
    });
    const empty = resolveWith({
      defaults: off,
      hosts: { 'a.com': { retry: {}, hedge: {}, breaker: {}, timeout: {}, throttle: {}, outlierDetection: {} } },
    });
    expect(on).toEqual(empty);
    expect(on.retry && on.retry.limit).toBe(DEFAULTS.retry.limit);
    expect(on.hedge).toMatchObject({ delay: { percentile: 95, min: 5, max: 1_000 }, maxHedges: 1 });
    expect(on.breaker).toMatchObject({ volumeThreshold: DEFAULTS.breaker.volumeThreshold });
    expect(on.timeout).toEqual(DEFAULTS.timeout);
    expect(on.throttle).toEqual({ k: 2, window: 60_000, maxProbability: 0.9 });
    expect(on.outlierDetection).toEqual(DEFAULTS.outlierDetection);
    // With nothing switched off first, `true` is the built-in default too.
    expect(resolveWith({ defaults: { breaker: true, retry: true } })).toEqual(resolveWith({}));
  });

  it('true is the built-in defaults whatever is inherited; an object merges over what is inherited', () => {
    const options = {
      defaults: { retry: { limit: 5 }, breaker: { volumeThreshold: 3 } },
      hosts: { 'a.com': { retry: true, breaker: {} } },
    };
    const policy = resolveWith(options);
    expect(policy.retry && policy.retry.limit).toBe(DEFAULTS.retry.limit);
    expect(policy.breaker && policy.breaker.volumeThreshold).toBe(3);
  });

  it('retry: 3 is { limit: 3 } and merges like it', () => {
    const short = resolveWith({ defaults: { retry: { backoff: { base: 1 } } }, hosts: { 'a.com': { retry: 3 } } });
    const long = resolveWith({ defaults: { retry: { backoff: { base: 1 } } }, hosts: { 'a.com': { retry: { limit: 3 } } } });
    expect(short).toEqual(long);
    expect(short.retry && short.retry.limit).toBe(3);
    expect(short.retry && short.retry.backoff).toMatchObject({ base: 1 });
    expect(resolveWith({ defaults: { retry: 0 } }).retry).toMatchObject({ limit: 0 });
    // Over retry: false, a number switches retrying on with that limit.
    expect(resolveWith({ defaults: { retry: false }, hosts: { 'a.com': { retry: 1 } } }).retry).toMatchObject({ limit: 1 });
    // Per request too.
    const resolver = createPolicyResolver({});
    expect(resolver(url('https://a.com/'), { retry: 4 }).retry).toMatchObject({ limit: 4 });
  });

  it('retry.budget and hedge.budget resolve to the same shape, with the same defaults', () => {
    const policy = resolveWith({ defaults: { hedge: true } });
    const retry = policy.retry && policy.retry.budget;
    const hedge = policy.hedge && policy.hedge.budget;
    expect(retry).toEqual({ ratio: 0.1, minPerSecond: 1, window: 10_000 });
    expect(hedge).toEqual(retry);
  });

  it('a budget given as a number is its ratio, merged over the inherited budget field by field', () => {
    for (const layer of ['retry', 'hedge'] as const) {
      const policy = resolveWith({
        defaults: { hedge: true, [layer]: { budget: { minPerSecond: 3, window: 5_000 } } },
        hosts: { 'a.com': { [layer]: { budget: 0.25 } } },
      });
      const budget = policy[layer] && policy[layer].budget;
      expect(budget, layer).toEqual({ ratio: 0.25, minPerSecond: 3, window: 5_000 });
      const object = resolveWith({
        defaults: { hedge: true, [layer]: { budget: 0.3 } },
        hosts: { 'a.com': { [layer]: { budget: { window: 2_000 } } } },
      });
      expect(object[layer] && object[layer].budget, layer).toEqual({ ratio: 0.3, minPerSecond: 1, window: 2_000 });
      const off = resolveWith({ defaults: { hedge: true, [layer]: { budget: false } } });
      expect(off[layer] && off[layer].budget, layer).toBe(false);
      const back = resolveWith({
        defaults: { hedge: true, [layer]: { budget: false } },
        hosts: { 'a.com': { [layer]: { budget: 0.5 } } },
      });
      expect(back[layer] && back[layer].budget, layer).toEqual({ ratio: 0.5, minPerSecond: 1, window: 10_000 });
    }
  });

  it('an upstreams list is empty unless a hosts entry or a request gives one', () => {
    expect(resolveWith({}).upstreams).toEqual([]);
    expect(resolveWith({ hosts: { 'a.com': { upstreams: ['http://10.0.0.1:8080'] } } }).upstreams).toEqual([
      'http://10.0.0.1:8080',
    ]);
  });
});
