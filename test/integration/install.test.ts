import { describe, expect } from 'vitest';
import { install } from '../../src/index.js';
import { test } from '../support/server.js';

describe('install()', () => {
  test('replaces globalThis.fetch and restore() puts exactly the previous one back', async ({ server }) => {
    const original = globalThis.fetch;
    const restore = install({ defaults: { retry: { backoff: { base: 1, max: 2 } } } });
    try {
      expect(globalThis.fetch).not.toBe(original);
      expect(globalThis.fetch).toBe(restore.fetch);
      server.handle((_req, res, _d, i) => {
        res.writeHead(i === 0 ? 503 : 200);
        res.end('done');
      });
      // Calls through the global go through our pipeline and do not recurse into themselves.
      const res = await fetch(server.url);
      expect(res.status).toBe(200);
      expect(server.deliveries).toHaveLength(2);
    } finally {
      await restore();
    }
    expect(globalThis.fetch).toBe(original);
  });

  test('layers over an already patched global passed as the fetch option', async ({ server }) => {
    const original = globalThis.fetch;
    const seen: string[] = [];
    const patched = (async (input: string | URL | Request, init?: RequestInit) => {
      seen.push(String(input));
      return original(input, init);
    }) as typeof fetch;
    globalThis.fetch = patched;
    try {
      const restore = install({ fetch: patched });
      await (await fetch(server.url)).text();
      await restore();
      expect(globalThis.fetch).toBe(patched);
      expect(seen).toEqual([server.url]);
    } finally {
      globalThis.fetch = original;
    }
  });

  test('restore() is idempotent and leaves a later install alone', async ({ server }) => {
    const original = globalThis.fetch;
    const first = install();
    await first();
    expect(globalThis.fetch).toBe(original);
    // A later install, then the first restore() again: the later client stays installed, and open.
    const later = install();
    await first();
    expect(globalThis.fetch).toBe(later.fetch);
    expect((await fetch(server.url)).status).toBe(200);
    await later();
    expect(globalThis.fetch).toBe(original);
  });
});
