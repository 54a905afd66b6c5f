import { describe, expect, it } from 'vitest';
import { createFetch } from '../../src/index.js';
import type { ResilientFetchOptions } from '../../src/options.js';

const rejects = (options: unknown, kind: ErrorConstructor, message: string | RegExp) => {
  expect(() => createFetch(options as ResilientFetchOptions)).toThrow(kind);
  expect(() => createFetch(options as ResilientFetchOptions)).toThrow(message);
};

describe('option validation at createFetch', () => {
  it('names the field of a negative retry limit', () => {
    rejects(
      { hosts: { 'a.com': { retry: { limit: -1 } } } },
      RangeError,
      'hosts["a.com"].retry.limit must be an integer >= 0, got -1',
    );
  });

  it('rejects unknown keys at every level, naming them', () => {
    rejects({ retries: 3 }, TypeError, 'retries is not a known option');
    rejects({ defaults: { retry: { limt: 1 } } }, TypeError, 'defaults.retry.limt is not a known option');
    rejects({ defaults: { retry: { backoff: { bse: 1 } } } }, TypeError, 'defaults.retry.backoff.bse is not a known option');
  });

  it('rejects malformed host patterns', () => {
    for (const key of ['', 'http://a.com', 'a.com/path', '*', '*.', 'a..b', 'a.*.com', 'a.com:0', 'a.com:70000', 'a b']) {
      rejects({ hosts: { [key]: {} } }, TypeError, `hosts[${JSON.stringify(key)}] is not a valid host pattern`);
    }
  });

  it('accepts the host patterns of the design', () => {
    expect(() =>
      createFetch({
        hosts: { 'api.example.com': {}, '*.internal': {}, 'orders.svc:8080': {}, '[::1]:3000': {}, '127.0.0.1': {} },
      }).close(),
    ).not.toThrow();
  });

  it('rejects wrong types and ranges with the path and the value', () => {
    rejects({ fetch: 'nope' }, TypeError, 'fetch must be a function, got "nope"');
    rejects({ defaults: { retry: true } }, TypeError, 'defaults.retry must be an object or false, got true');
    rejects({ defaults: { retry: { statusCodes: [503, 99] } } }, RangeError, 'defaults.retry.statusCodes[1]');
    rejects({ defaults: { retry: { backoff: { jitter: 'fuzzy' } } } }, TypeError, 'defaults.retry.backoff.jitter must be one of');
    rejects({ defaults: { hedge: { delay: -1 } } }, TypeError, 'defaults.hedge.delay must be a number of milliseconds');
    rejects({ defaults: { hedge: { delay: { percentile: 120 } } } }, RangeError, 'defaults.hedge.delay.percentile');
    rejects({ defaults: { breaker: { errorThresholdPercentage: 0 } } }, RangeError, 'defaults.breaker.errorThresholdPercentage');
    rejects({ defaults: { timeout: { attempt: 0 } } }, TypeError, 'defaults.timeout.attempt must be a number > 0 or false');
    rejects({ defaults: { maxBufferBytes: 1.5 } }, RangeError, 'defaults.maxBufferBytes must be an integer >= 0');
    rejects({ defaults: { upstreams: ['ftp://x'] } }, TypeError, 'defaults.upstreams[0] must be an http(s) origin');
    rejects({ maxHosts: 0 }, RangeError, 'maxHosts must be an integer >= 1');
    rejects('x', TypeError, 'options must be an object');
  });

  it('rejects a per-request policy at call time, naming init.policy', async () => {
    const fetch = createFetch({ fetch: async () => new Response('ok') });
    await expect(fetch('http://a.test/', { policy: { retry: { limit: -2 } } })).rejects.toThrow(
      'init.policy.retry.limit must be an integer >= 0, got -2',
    );
    await fetch.close();
  });

  it('never mutates the options it is given', () => {
    const options = { defaults: { retry: { limit: 1 } }, hosts: { 'a.com': { hedge: { delay: 5 } } } };
    const copy = structuredClone(options);
    createFetch(options).close();
    expect(options).toEqual(copy);
  });
});
