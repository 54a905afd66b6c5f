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

  it('names breaker.resetTimeout above maxResetTimeout, and accepts a fixed period', () => {
    rejects(
      { hosts: { 'a.com': { breaker: { resetTimeout: 5_000, maxResetTimeout: 1_000 } } } },
      RangeError,
      'hosts["a.com"].breaker.resetTimeout must be <= maxResetTimeout, got 5000 > 1000',
    );
    rejects({ defaults: { breaker: { maxResetTimeout: 0 } } }, RangeError, 'defaults.breaker.maxResetTimeout must be');
    expect(() => createFetch({ defaults: { breaker: { resetTimeout: 2_000, maxResetTimeout: 2_000 } } }).close()).not.toThrow();
    // resetTimeout alone above the default cap: a fixed period of resetTimeout.
    expect(() => createFetch({ defaults: { breaker: { resetTimeout: 60_000 } } }).close()).not.toThrow();
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
    rejects(
      { defaults: { retry: 'yes' } },
      TypeError,
      'defaults.retry must be a retry limit (an integer >= 0), an object, true or false, got "yes"',
    );
    rejects({ defaults: { hedge: 1 } }, TypeError, 'defaults.hedge must be an object, true or false, got 1');
    rejects({ defaults: { retry: { statusCodes: [503, 99] } } }, RangeError, 'defaults.retry.statusCodes[1]');
    rejects({ defaults: { retry: { backoff: { jitter: 'fuzzy' } } } }, TypeError, 'defaults.retry.backoff.jitter must be one of');
    rejects({ defaults: { hedge: { delay: -1 } } }, TypeError, 'defaults.hedge.delay must be a number of milliseconds');
    rejects({ defaults: { hedge: { delay: { percentile: 120 } } } }, RangeError, 'defaults.hedge.delay.percentile');
    rejects({ defaults: { breaker: { errorThresholdPercentage: 0 } } }, RangeError, 'defaults.breaker.errorThresholdPercentage');
    rejects({ defaults: { timeout: { attempt: 0 } } }, TypeError, 'defaults.timeout.attempt must be a number > 0 or false');
    rejects({ defaults: { maxBufferBytes: 1.5 } }, RangeError, 'defaults.maxBufferBytes must be an integer >= 0');
    rejects(
      { hosts: { 'a.com': { upstreams: ['ftp://x'] } } },
      TypeError,
      'hosts["a.com"].upstreams[0] must be an http(s) origin',
    );
    rejects({ maxHosts: 0 }, RangeError, 'maxHosts must be an integer >= 1');
    rejects('x', TypeError, 'options must be an object');
  });

  it('issue-16: true switches any layer on, and a number is the retry limit (retry: 3 is { limit: 3 })', () => {
    for (const key of ['retry', 'hedge', 'breaker', 'timeout', 'throttle', 'outlierDetection'] as const) {
      expect(() => createFetch({ defaults: { [key]: true } }).close(), key).not.toThrow();
      expect(() => createFetch({ hosts: { 'a.com': { [key]: false } } }).close(), key).not.toThrow();
    }
    expect(() => createFetch({ defaults: { retry: 0 }, hosts: { 'a.com': { retry: 3 } } }).close()).not.toThrow();
  });

  it('issue-16: a retry limit given as a number must be an integer >= 0, named as the field', () => {
    const expected = 'must be a retry limit (an integer >= 0), an object, true or false';
    rejects({ defaults: { retry: -1 } }, RangeError, `defaults.retry ${expected}, got -1`);
    rejects({ defaults: { retry: 1.5 } }, RangeError, `defaults.retry ${expected}, got 1.5`);
    rejects({ hosts: { 'a.com': { retry: Number.NaN } } }, RangeError, `hosts["a.com"].retry ${expected}, got NaN`);
    rejects({ defaults: { retry: Infinity } }, RangeError, `defaults.retry ${expected}, got Infinity`);
  });

  it('issue-16: retry.budget and hedge.budget take one shape: a ratio, { ratio, minPerSecond, window } or false', () => {
    for (const layer of ['retry', 'hedge'] as const) {
      for (const budget of [0.2, 0, 1, false, { ratio: 0.3 }, { ratio: 0.1, minPerSecond: 2, window: 5_000 }]) {
        expect(
          () => createFetch({ defaults: { [layer]: { budget } } }).close(),
          `${layer} ${JSON.stringify(budget)}`,
        ).not.toThrow();
      }
      rejects(
        { defaults: { [layer]: { budget: 1.5 } } },
        RangeError,
        `defaults.${layer}.budget must be a number >= 0 and <= 1, got 1.5`,
      );
      rejects(
        { defaults: { [layer]: { budget: { window: 0 } } } },
        RangeError,
        `defaults.${layer}.budget.window must be a number > 0`,
      );
      rejects(
        { defaults: { [layer]: { budget: { ratoi: 1 } } } },
        TypeError,
        `defaults.${layer}.budget.ratoi is not a known option`,
      );
      rejects(
        { defaults: { [layer]: { budget: true } } },
        TypeError,
        `defaults.${layer}.budget must be a ratio between 0 and 1, an object { ratio, minPerSecond, window } or false, got true`,
      );
    }
  });

  it('issue-16: upstreams in defaults is an error that says to put them under hosts', () => {
    rejects(
      { defaults: { upstreams: ['http://10.0.0.1:8080'] } },
      TypeError,
      /^defaults\.upstreams is not allowed: .*put it under hosts/,
    );
    expect(() => createFetch({ defaults: { balance: 'round-robin', outlierDetection: true } }).close()).not.toThrow();
    expect(() => createFetch({ hosts: { 'a.com': { upstreams: ['http://10.0.0.1:8080'] } } }).close()).not.toThrow();
  });

  it("issue-16: transport 'fetch' was renamed 'undici-fetch', and the old name says so", () => {
    rejects({ transport: 'fetch' }, TypeError, /^transport: 'fetch' was renamed 'undici-fetch'/);
    expect(() => createFetch({ transport: 'undici-fetch' }).close()).not.toThrow();
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
