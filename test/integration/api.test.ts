/**
 * Issue 16 item 6 at the public `fetch`, over real sockets: the option forms (`true`, `retry: N`,
 * one budget shape) reach the layers, and every host a caller is shown is an origin, with upstreams
 * naming where an attempt went and the logical host apart.
 */
import type { ServerResponse } from 'node:http';
import { describe, expect, onTestFinished } from 'vitest';
import { CircuitOpenError, ThrottledError, type RetryContext } from '../../src/index.js';
import { client } from '../support/client.js';
import { startServer, test } from '../support/server.js';

const status =
  (code: number) =>
  (_req: unknown, res: ServerResponse): void =>
    void res.writeHead(code).end(String(code));

describe('issue-16: the option forms reach the layers', () => {
  test('retry: 3 sends four requests; retry: true the default three; retry: 0 one', async ({ server }) => {
    server.handle(status(503));
    for (const [retry, deliveries] of [
      [3, 4],
      [true, 3],
      [0, 1],
    ] as const) {
      const before = server.deliveries.length;
      const fetch = client({ defaults: { retry, breaker: false } });
      // retry: true is the built-in defaults, budget included: keep it out of the count with a per-request policy.
      const res = await fetch(server.url, { policy: { retry: { budget: false } } });
      expect(res.status, String(retry)).toBe(503);
      expect(server.deliveries.length - before, String(retry)).toBe(deliveries);
    }
  });

  test('breaker: true switches the breaker back on with its defaults (20 calls) under defaults.breaker: false', async ({
    server,
  }) => {
    server.handle(status(503));
    const fetch = client({
      defaults: { retry: false, breaker: false },
      hosts: { [`127.0.0.1:${server.port}`]: { breaker: true } },
    });
    for (let i = 0; i < 20; i++) expect((await fetch(server.url)).status).toBe(503);
    await expect(fetch(server.url)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(server.deliveries).toHaveLength(20);
  });

  test('a budget given as a number is its ratio, for retries and hedges alike', async ({ server }) => {
    server.handle(status(503));
    const fetch = client({ defaults: { retry: { limit: 1, budget: 0 }, breaker: false, hedge: { delay: 1_000, budget: 0 } } });
    await (await fetch(server.url)).arrayBuffer();
    const stats = fetch.stats().hosts[server.origin] as Record<string, unknown>;
    // Ratio 0 and the default reserve of 1 per second over 10 s: ten extra requests, one spent.
    expect(stats.retryBudget).toMatchObject({ calls: 1, spent: 1, left: 9 });
    expect(stats.hedgeBudget).toMatchObject({ calls: 2, spent: 0, left: 10 });
  });
});

describe('issue-16: every host shown to a caller is an origin', () => {
  test("CircuitOpenError.host, ThrottledError.host, every event's host and the stats keys are the same origin", async ({
    server,
  }) => {
    server.handle(status(503));
    const fetch = client({ defaults: { retry: 1, breaker: { volumeThreshold: 2, resetTimeout: 60_000 } } });
    for (let i = 0; i < 2; i++) await (await fetch(`${server.url}path?i=${i}`)).arrayBuffer();
    const open = await fetch(`${server.url}path`).catch((e: unknown) => e);
    expect(open).toBeInstanceOf(CircuitOpenError);
    expect((open as CircuitOpenError).host).toBe(server.origin);
    expect(server.origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(fetch.events.length).toBeGreaterThan(0);
    for (const event of fetch.events) expect(event.host, event.type).toBe(server.origin);
    expect(Object.keys(fetch.stats().hosts)).toEqual([server.origin]);

    const throttled = client({ defaults: { retry: false, breaker: false, throttle: true } });
    let error: unknown;
    for (let i = 0; i < 50 && error === undefined; i++) {
      await throttled(server.url).then(
        (res) => res.arrayBuffer(),
        (e: unknown) => (error = e),
      );
    }
    expect(error).toBeInstanceOf(ThrottledError);
    expect((error as ThrottledError).host).toBe(server.origin);
    for (const event of throttled.events) expect(event.host, event.type).toBe(server.origin);
  });

  test('with upstreams, RetryContext.url and an event host say where the attempt went, requestUrl and logicalHost the caller', async () => {
    // Each instance fails its first request: the call meets both failures, whichever goes first.
    const a = await startServer((_req, res, _d, i) => void res.writeHead(i === 0 ? 503 : 200).end());
    const b = await startServer((_req, res, _d, i) => void res.writeHead(i === 0 ? 503 : 200).end());
    onTestFinished(async () => void (await Promise.all([a.close(), b.close()])));
    const contexts: RetryContext[] = [];
    const fetch = client({
      defaults: { retry: { limit: 3, budget: false, shouldRetry: (context) => void contexts.push(context) } },
      hosts: { 'orders.test:8080': { upstreams: [a.origin, b.origin], balance: 'round-robin' } },
    });
    const res = await fetch('http://orders.test:8080/items?q=1');
    expect(res.status).toBe(200);
    expect(contexts).toHaveLength(2);
    expect(new Set(contexts.map((context) => new URL(context.url).origin))).toEqual(new Set([a.origin, b.origin]));
    for (const context of contexts) {
      expect(context.requestUrl).toBe('http://orders.test:8080/items?q=1');
      const sent = new URL(context.url);
      expect([a.origin, b.origin]).toContain(sent.origin);
      expect(`${sent.pathname}${sent.search}`).toBe('/items?q=1');
    }
    const retries = fetch.events.filter((e) => e.type === 'retry');
    expect(retries.length).toBe(contexts.length);
    for (const event of retries) {
      expect([a.origin, b.origin]).toContain(event.host);
      expect(event.logicalHost).toBe('http://orders.test:8080');
    }
    // Without upstreams the two are one: url is requestUrl, and no logicalHost is added.
    const direct = await startServer((_req, res, _d, i) => void res.writeHead(i === 0 ? 503 : 200).end());
    onTestFinished(() => direct.close());
    const plain: RetryContext[] = [];
    const fetchDirect = client({ defaults: { retry: { shouldRetry: (context) => void plain.push(context) } } });
    expect((await fetchDirect(`${direct.url}x`)).status).toBe(200);
    expect(plain).toMatchObject([{ url: `${direct.url}x`, requestUrl: `${direct.url}x` }]);
    expect(fetchDirect.events.filter((e) => e.type === 'retry').every((e) => e.host === direct.origin && !e.logicalHost)).toBe(
      true,
    );
  });
});
