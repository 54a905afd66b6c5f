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
