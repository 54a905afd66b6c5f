import { describe, expect, test } from 'vitest';
import { createFetch } from '../../../src/index.js';
import { needsReference } from '../../../src/transport/dispatcher.js';
import type { Attempt, PreparedRequest } from '../../../src/pipeline/types.js';

const attempt = (url: string, init: Record<string, unknown> = {}, method = 'GET'): Attempt => {
  const request = { url: new URL(url), init, method } as unknown as PreparedRequest;
  return { request, url: new URL(url), signal: new AbortController().signal, number: 0, branch: 0 };
};

describe('needsReference: what the dispatcher transport hands to undici fetch', () => {
  test('plain http(s) requests with fetch defaults stay on the fast path', () => {
    expect(needsReference(attempt('http://127.0.0.1/'))).toBe(false);
    expect(needsReference(attempt('https://127.0.0.1/', { redirect: 'manual', keepalive: true }))).toBe(false);
    // What a global Request carries by default.
    const fromRequest = {
      mode: 'cors',
      cache: 'default',
      integrity: '',
      referrer: 'about:client',
      redirect: 'follow',
      credentials: 'same-origin',
      referrerPolicy: '',
    };
    expect(needsReference(attempt('http://127.0.0.1/', fromRequest))).toBe(false);
  });

  test.for([
    ['data:text/plain,hi', {}],
    ['blob:nodedata:1234', {}],
    ['http://127.0.0.1/', { dispatcher: {} }],
    ['http://127.0.0.1/', { integrity: 'sha256-abc' }],
    ['http://127.0.0.1/', { mode: 'no-cors' }],
    ['http://127.0.0.1/', { mode: 'same-origin' }],
    ['http://127.0.0.1/', { cache: 'no-store' }],
    ['http://127.0.0.1/', { referrer: 'http://127.0.0.1/from' }],
  ] as const)('%s with %o goes to the reference transport', ([url, init]) => {
    expect(needsReference(attempt(url, init))).toBe(true);
  });

  test('methods fetch forbids go to the reference transport, which rejects them', () => {
    for (const method of ['CONNECT', 'trace', 'TRACK', 'BAD METHOD']) {
      expect(needsReference(attempt('http://127.0.0.1/', {}, method))).toBe(true);
    }
    expect(needsReference(attempt('http://127.0.0.1/', {}, 'PROPFIND'))).toBe(false);
  });
});

describe('the transport option', () => {
  test('accepts dispatcher and fetch', async () => {
    for (const transport of ['dispatcher', 'undici-fetch'] as const) await createFetch({ transport }).close();
  });

  test('anything else throws naming the field', () => {
    expect(() => createFetch({ transport: 'undici' as never })).toThrow(
      /transport must be one of "dispatcher", "undici-fetch", got "undici"/,
    );
  });
});
