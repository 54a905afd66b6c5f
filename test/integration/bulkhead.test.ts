/**
 * Issue 17: the bulkhead per origin, against real node:http servers on 127.0.0.1, with the rest of
 * the defaults on (retries, breaker, timeouts).
 */
import { describe, expect, onTestFinished, test } from 'vitest';
import { createFetch, isBulkheadRejectedError } from '../../src/index.js';
import { defaultClient } from '../support/client.js';
import { startServer } from '../support/server.js';

/** A server that holds every request until `open()`, and records how many it held at once. */
const gated = async () => {
  let inFlight = 0;
  let peak = 0;
  let waiting: Array<() => void> = [];
  let opened = false;
  const server = await startServer(async (_req, res) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    if (!opened) await new Promise<void>((resolve) => waiting.push(resolve));
    inFlight--;
    res.end('ok');
  });
  onTestFinished(() => server.close());
  return {
    server,
    get peak() {
      return peak;
    },
    /** Resolves once `n` requests are held. */
    held: async (n: number) => {
      while (waiting.length < n) await new Promise((resolve) => setTimeout(resolve, 5));
    },
    open: () => {
      opened = true;
      for (const resolve of waiting) resolve();
      waiting = [];
    },
  };
};

/** The library's defaults (retries, breaker, timeouts) with the bulkhead under test. */
const client = defaultClient;

const settle = (calls: Array<Promise<Response>>) =>
  Promise.all(
    calls.map((call) =>
      call.then(
        async (res) => ({ status: res.status, body: await res.text() }),
        (error: unknown) => ({ error }),
      ),
    ),
  );

describe('bulkhead', () => {
  test('5 of 50 concurrent calls in flight: the server never sees more, the overflow rejects without reaching it, nothing leaks', async () => {
    const gate = await gated();
    const fetch = client({ defaults: { bulkhead: { maxConcurrent: 5, maxQueued: 0 } } });
    const { events } = fetch;
    const settled = settle(Array.from({ length: 50 }, (_, i) => fetch(`${gate.server.url}${i}`)));
    await gate.held(5);
    const midway = fetch.stats().hosts[gate.server.origin]?.bulkhead;
    gate.open();
    const results = await settled;
    const rejected = results.filter((r) => 'error' in r && isBulkheadRejectedError(r.error));
    expect(results.filter((r) => 'status' in r && r.status === 200)).toHaveLength(5);
    expect(rejected).toHaveLength(45);
    expect(rejected[0]).toMatchObject({
      error: { name: 'BulkheadRejectedError', code: 'ERR_BULKHEAD_FULL', host: gate.server.origin, reason: 'queue full' },
    });
    expect(gate.peak).toBe(5);
    expect(gate.server.deliveries).toHaveLength(5); // not retried, not sent
    expect(midway).toMatchObject({ limit: 5, inFlight: 5, queued: 0 });
    expect(fetch.stats().hosts[gate.server.origin]).toMatchObject({
      failures: 45,
      bulkhead: { limit: 5, inFlight: 0, queued: 0, rejected: 45 },
      breaker: { state: 'closed', failures: 0 },
    });
    expect(events.filter((e) => e.type === 'bulkhead-rejected')).toHaveLength(45);
    expect(events.filter((e) => e.type === 'retry')).toHaveLength(0);
  });

  test('with a queue, waiting calls are served in turn as slots free up, still never more than 5 at once', async () => {
    const gate = await gated();
    const fetch = client({ defaults: { bulkhead: { maxConcurrent: 5, maxQueued: 20, queueTimeout: 10_000 } } });
    const settled = settle(Array.from({ length: 50 }, (_, i) => fetch(`${gate.server.url}${i}`)));
    await gate.held(5);
    expect(fetch.stats().hosts[gate.server.origin]?.bulkhead).toMatchObject({ inFlight: 5, queued: 20 });
    gate.open();
    const results = await settled;
    expect(results.filter((r) => 'status' in r)).toHaveLength(25);
    expect(results.filter((r) => 'error' in r && isBulkheadRejectedError(r.error))).toHaveLength(25);
    expect(gate.peak).toBe(5);
    expect(gate.server.deliveries).toHaveLength(25);
  });

  test("a waiting call leaves at its caller's abort and at close(); queue timeout rejects; none reaches the server", async () => {
    const gate = await gated();
    const fetch = createFetch({ defaults: { bulkhead: { maxConcurrent: 1, maxQueued: 10, queueTimeout: 200 } } });
    const first = fetch(gate.server.url);
    await gate.held(1);
    const caller = new AbortController();
    const aborted = fetch(gate.server.url, { signal: caller.signal }).catch((e: unknown) => e);
    const timedOut = fetch(gate.server.url).catch((e: unknown) => e);
    caller.abort(new Error('changed my mind'));
    expect(await aborted).toMatchObject({ message: 'changed my mind' });
    expect(await timedOut).toMatchObject({ name: 'BulkheadRejectedError', reason: 'queue timeout' });
    const closedWhileWaiting = fetch(gate.server.url).catch((e: unknown) => e);
    const queued = () => (fetch.stats().hosts[gate.server.origin]?.bulkhead as { queued?: number } | undefined)?.queued;
    while (queued() !== 1) await new Promise((r) => setTimeout(r, 5));
    const closing = fetch.close();
    expect(await closedWhileWaiting).toMatchObject({ name: 'TypeError', message: expect.stringMatching(/closed/) });
    gate.open();
    await first.then((r) => r.text()).catch(() => undefined);
    await closing;
    expect(gate.server.deliveries).toHaveLength(1);
  });

  test('hedges take a slot when one is free and are never queued', async () => {
    const server = await startServer(async (_req, res, _d, index) => {
      if (index === 0) await new Promise((resolve) => setTimeout(resolve, 300));
      res.end(String(index));
    });
    onTestFinished(() => server.close());
    const fetch = client({ defaults: { hedge: { delay: 20, budget: false }, bulkhead: { maxConcurrent: 1, maxQueued: 5 } } });
    const res = await fetch(server.url);
    expect(await res.text()).toBe('0'); // the hedge found no slot and was not sent
    expect(server.deliveries).toHaveLength(1);
    const roomy = client({ defaults: { hedge: { delay: 20, budget: false }, bulkhead: { maxConcurrent: 2 } } });
    server.handle(async (_req, res, _d, index) => {
      if (index === 1) await new Promise((resolve) => setTimeout(resolve, 300));
      res.end(String(index));
    });
    expect(await (await roomy(server.url)).text()).toBe('2');
  });

  test('with upstreams, an attempt finding one upstream full fails over to another', async () => {
    const a = await gated();
    const b = await gated();
    const fetch = client({
      hosts: { 'api.test': { upstreams: [a.server.origin, b.server.origin], bulkhead: { maxConcurrent: 2, maxQueued: 0 } } },
    });
    const settled = settle(Array.from({ length: 6 }, (_, i) => fetch(`http://api.test/${i}`)));
    await a.held(2);
    await b.held(2);
    a.open();
    b.open();
    const results = await settled;
    expect(results.filter((r) => 'status' in r)).toHaveLength(4);
    const rejected = results.filter((r) => 'error' in r && isBulkheadRejectedError(r.error));
    expect(rejected).toHaveLength(2);
    expect(a.peak).toBe(2);
    expect(b.peak).toBe(2);
  });

  test("maxConcurrent 'auto' learns a lower limit from a server shedding load with 503", async () => {
    let inFlight = 0;
    let peak = 0;
    const server = await startServer(async (_req, res) => {
      if (inFlight >= 4) return void res.writeHead(503).end();
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 10));
      inFlight--;
      res.end('ok');
    });
    onTestFinished(() => server.close());
    const fetch = client({
      defaults: { retry: false, breaker: false, bulkhead: { maxConcurrent: 'auto', maxQueued: 1_000, queueTimeout: 10_000 } },
    });
    const { events } = fetch;
    let answered = 0;
    for (let round = 0; round < 20; round++) {
      const results = await settle(Array.from({ length: 30 }, () => fetch(server.url)));
      answered += results.filter((r) => 'status' in r).length;
    }
    const bulkhead = fetch.stats().hosts[server.origin]?.bulkhead as { limit: number; inFlight: number; queued: number };
    expect(bulkhead.limit).toBeLessThan(20);
    expect(bulkhead).toMatchObject({ inFlight: 0, queued: 0 });
    expect(events.some((e) => e.type === 'concurrency-limit' && e.to < e.from)).toBe(true);
    expect(answered).toBe(600); // queued, not rejected: every call got the server's answer
  });

  test('off by default: 50 concurrent calls all reach the server', async () => {
    const gate = await gated();
    const fetch = client();
    const settled = settle(Array.from({ length: 50 }, (_, i) => fetch(`${gate.server.url}${i}`)));
    await gate.held(50);
    gate.open();
    const results = await settled;
    expect(results.every((r) => 'status' in r && r.status === 200)).toBe(true);
    expect(fetch.stats().hosts[gate.server.origin]).not.toHaveProperty('bulkhead');
  });

  test('invalid options throw at createFetch naming the field', () => {
    expect(() => createFetch({ defaults: { bulkhead: { maxConcurrent: 0 } } })).toThrow(/defaults\.bulkhead\.maxConcurrent/);
    expect(() => createFetch({ defaults: { bulkhead: { maxConcurrent: 'fast' as never } } })).toThrow(
      /defaults\.bulkhead\.maxConcurrent must be an integer >= 1 or "auto"/,
    );
    expect(() => createFetch({ defaults: { bulkhead: { maxQueued: -1 } } })).toThrow(/defaults\.bulkhead\.maxQueued/);
    expect(() => createFetch({ defaults: { bulkhead: { queueTimeout: 0 } } })).toThrow(/defaults\.bulkhead\.queueTimeout/);
  });
});
