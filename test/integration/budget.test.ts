import diagnostics from 'node:diagnostics_channel';
import type { ServerResponse } from 'node:http';
import { describe, expect, onTestFinished, vi } from 'vitest';
import { isCircuitOpenError, isThrottledError } from '../../src/index.js';
import type { ResilientEvent } from '../../src/index.js';
import type { Policy } from '../../src/options.js';
import { eventually, fakeTimeouts, startServer, test } from '../support/server.js';
import { client as fastClient, defaultClient as client } from '../support/client.js';

const unavailable = (_req: unknown, res: ServerResponse) => {
  res.writeHead(503, { 'content-type': 'text/plain' });
  res.end('down');
};

/** Runs `total` calls with `concurrency` workers; returns every outcome. */
const load = async <T>(total: number, concurrency: number, call: (index: number) => Promise<T>) => {
  const outcomes: Array<PromiseSettledResult<T>> = [];
  let started = 0;
  const worker = async () => {
    while (started < total) {
      const index = started++;
      outcomes.push(
        await call(index).then(
          (value) => ({ status: 'fulfilled', value }) as const,
          (reason: unknown) => ({ status: 'rejected', reason }) as const,
        ),
      );
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return outcomes;
};

/** A 503 that resolved (body drained), or an open breaker's rejection: the two outcomes an outage may give. */
const outageOutcome = async (fetch: ReturnType<typeof client>, url: string) => {
  try {
    const res = await fetch(url);
    await res.arrayBuffer();
    return res.status;
  } catch (error) {
    if (isCircuitOpenError(error)) return 'circuit-open';
    throw error;
  }
};

describe('retry budget against a server that answers 503 to everything', () => {
  // Breaker off, and the default breaker on. On this branch the breaker layer is still a pass-through;
  // once it exists it fails calls fast with CircuitOpenError, which can only lower the count.
  test.for([
    ['breaker off', { retry: { limit: 3 }, breaker: false }],
    ['breaker on', { retry: { limit: 3 } }],
  ] as Array<[string, Policy]>)(
    'issue 5: 1,000 calls at concurrency 16 with limit 3 (%s) make at most 1.25 deliveries per call',
    async ([, defaults], { server }) => {
      server.handle(unavailable);
      const events: ResilientEvent[] = [];
      const fetch = client({ defaults, onEvent: (e) => events.push(e) });
      const outcomes = await load(1_000, 16, () => outageOutcome(fetch, server.url));
      expect(outcomes).toHaveLength(1_000);
      expect(outcomes.every((o) => o.status === 'fulfilled' && (o.value === 503 || o.value === 'circuit-open'))).toBe(true);
      expect(server.deliveries.length).toBeGreaterThanOrEqual(
        outcomes.filter((o) => o.status === 'fulfilled' && o.value === 503).length,
      );
      expect(server.deliveries.length / 1_000).toBeLessThanOrEqual(1.25);
      expect(fetch.stats().hosts[server.origin]?.retryBudget).toBeDefined();
      if (defaults.breaker === false) {
        // Every call got its 503; the budget paid for some retries (the reserve and 10 %), then refused.
        // (Its calls and spent are counts over the sliding window, which a slow run outlasts.)
        expect(server.deliveries.length).toBeGreaterThan(1_000);
        const host = fetch.stats().hosts[server.origin];
        expect(host?.retries).toBe(server.deliveries.length - 1_000);
        expect((host?.retryBudget as unknown as { refused: number }).refused).toBeGreaterThan(500);
        expect(
          events.filter((e) => e.type === 'budget-exhausted' && e.kind === 'retry' && e.host === server.origin).length,
        ).toBeGreaterThan(500);
      }
    },
  );

  test('without a budget (naive retrying) the same outage gets limit + 1 deliveries per call', async ({ server }) => {
    server.handle(unavailable);
    const fetch = fastClient({ defaults: { retry: { limit: 3, budget: false }, breaker: false } });
    await load(200, 16, () => outageOutcome(fetch, server.url));
    expect(server.deliveries).toHaveLength(800);
  });

  test('when the server is healthy again, retries are available again within the window', async ({ server }) => {
    const window = 2_000;
    const events: ResilientEvent[] = [];
    const published: unknown[] = [];
    const onPublish = (message: unknown) => void published.push(message);
    diagnostics.subscribe('resilient-fetch:budget-exhausted', onPublish);
    onTestFinished(() => void diagnostics.unsubscribe('resilient-fetch:budget-exhausted', onPublish));
    // No back-off sleep, and a fake clock (performance, setTimeout) that stands still: the budget's
    // window moves only when the test advances it, however slow the machine.
    const fetch = client({
      defaults: { retry: { limit: 3, backoff: () => 0, budget: { ratio: 0.1, minPerSecond: 1, window } }, breaker: false },
      onEvent: (e) => events.push(e),
    });
    fakeTimeouts();
    server.handle(unavailable);
    for (let i = 0; i < 10; i++) await outageOutcome(fetch, server.url);
    // The reserve (1/s over 2 s) and 10 % of 10 calls: 3 retries at most.
    expect(server.deliveries.length).toBeLessThanOrEqual(13);
    expect(fetch.stats().hosts[server.origin]?.retryBudget).toMatchObject({ left: 0 });

    // The server recovers: each call's first attempt still fails, its retry would succeed.
    server.handle((_req, res, delivery) => {
      const seen = server.deliveries.filter((d) => d.url === delivery.url).length;
      if (seen === 1) unavailable(_req, res);
      else res.end('ok');
    });
    // Still inside the window (the clock has not moved): the budget is spent, so the 503 comes back
    // without a retry.
    const early = await fetch(`${server.url}early`);
    expect(early.status).toBe(503);
    await early.arrayBuffer();
    expect(server.deliveries.filter((d) => d.url === '/early')).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(window + 200);
    const res = await fetch(`${server.url}late`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok');
    expect(server.deliveries.filter((d) => d.url === '/late')).toHaveLength(2);
    const refusals = events.filter((e) => e.type === 'budget-exhausted');
    expect(refusals.length).toBeGreaterThan(0);
    expect(published).toEqual(refusals); // the same events on node:diagnostics_channel
  });
});

describe('server pushback', () => {
  test('a Retry-After: 2 from one call delays the retries of other calls to that host, not to another host', async ({
    server,
  }) => {
    const other = await startServer();
    onTestFinished(() => other.close());
    const hits = new Map<string, number>();
    const seen = (url: string) => {
      hits.set(url, (hits.get(url) ?? 0) + 1);
      return hits.get(url)!;
    };
    server.handle((req, res) => {
      const n = seen(`a${req.url}`);
      if (req.url === '/x' && n === 1) {
        res.writeHead(503, { 'retry-after': '2' });
        res.end();
      } else if (n === 1 && req.url !== '/fresh') unavailable(req, res);
      else res.end('ok');
    });
    other.handle((req, res) => {
      if (seen(`b${req.url}`) === 1) unavailable(req, res);
      else res.end('ok');
    });
    const events: ResilientEvent[] = [];
    // No back-off of its own: only the pause can hold a retry back.
    const fetch = client({ defaults: { retry: { backoff: () => 0 }, breaker: false }, onEvent: (e) => events.push(e) });
    // The clock (performance, setTimeout) stands still until the test moves it: the 2 s pause ends
    // exactly when the test says so, however slow the machine.
    fakeTimeouts();
    const sent = () => fetch.stats().hosts[server.origin]?.attempts;

    const x = fetch(`${server.url}x`);
    expect(await eventually(() => events.some((e) => e.type === 'pushback'))).toBe(true);
    expect(events.filter((e) => e.type === 'pushback')).toHaveLength(1);
    const ys = [1, 2, 3].map((i) => fetch(`${server.url}y${i}`));
    // The other host's retry and a first attempt go out and finish while the clock stands still.
    const z = await fetch(`${other.url}z`);
    expect(await z.text()).toBe('ok');
    const fresh = await fetch(`${server.url}fresh`); // a first attempt is not held back
    expect(await fresh.text()).toBe('ok');
    expect(fetch.stats().hosts[server.origin]?.pushback).toMatchObject({ status: 503 });
    // x and each y sent once and now wait for their retry; nothing else went to the paused host.
    expect(await eventually(() => events.filter((e) => e.type === 'retry' && e.host === server.origin).length === 4)).toBe(true);
    expect(sent()).toBe(5);

    await vi.advanceTimersByTimeAsync(1_999);
    expect(sent()).toBe(5); // still paused
    await vi.advanceTimersByTimeAsync(1);
    expect(await eventually(() => sent() === 9)).toBe(true); // the pause is over: the four retries go out
    const [xRes, ...yRes] = await Promise.all([x, ...ys]);
    for (const res of [xRes, ...yRes]) expect(await res!.text()).toBe('ok');
    expect(Object.fromEntries(hits)).toEqual({ 'a/x': 2, 'a/y1': 2, 'a/y2': 2, 'a/y3': 2, 'a/fresh': 1, 'b/z': 2 });
    expect(events.filter((e) => e.type === 'pushback')).toEqual([
      expect.objectContaining({ type: 'pushback', host: server.origin, status: 503 }),
    ]);
    expect(events.filter((e) => e.type === 'retry' && e.host === other.origin)).toHaveLength(1);
  });
});

describe('adaptive throttling', () => {
  test('a host that refuses everything gets most calls rejected locally with ThrottledError', async ({ server }) => {
    server.handle(unavailable);
    const events: ResilientEvent[] = [];
    const fetch = client({
      defaults: { retry: false, breaker: false, throttle: { k: 2, maxProbability: 1 } },
      onEvent: (e) => events.push(e),
    });
    const outcomes = await load(300, 4, async () => {
      try {
        await (await fetch(server.url)).arrayBuffer();
        return 'sent';
      } catch (error) {
        if (isThrottledError(error)) return 'throttled';
        throw error;
      }
    });
    const throttled = outcomes.filter((o) => o.status === 'fulfilled' && o.value === 'throttled').length;
    expect(outcomes.every((o) => o.status === 'fulfilled')).toBe(true);
    expect(server.deliveries).toHaveLength(300 - throttled); // rejected before the network
    expect(server.deliveries.length).toBeLessThan(60); // with no accepts, p = n / (n + 1)
    expect(events.filter((e) => e.type === 'throttle')).toHaveLength(throttled);
    expect(fetch.stats().hosts[server.origin]).toMatchObject({
      throttle: { rejected: throttled, accepts: 0 },
      failures: throttled,
    });
  });

  test('with the default cap, a tenth of the calls still reach the host and see it recover', async ({ server }) => {
    server.handle(unavailable);
    const fetch = client({ defaults: { retry: false, breaker: false, throttle: true } });
    const call = async () => {
      try {
        const res = await fetch(server.url);
        await res.arrayBuffer();
        return res.status;
      } catch (error) {
        if (isThrottledError(error)) return 'throttled';
        throw error;
      }
    };
    await load(300, 4, call);
    const sent = server.deliveries.length;
    expect(sent).toBeGreaterThan(10); // ~10 % of 300, plus the first few (p = 0.9 is the most it gets)
    expect(sent).toBeLessThan(100);
    expect(fetch.stats().hosts[server.origin]?.throttle).toMatchObject({ probability: 0.9 });
    server.handle((_req, res) => void res.end('ok'));
    const after = await load(300, 4, call);
    expect(after.some((o) => o.status === 'fulfilled' && o.value === 200)).toBe(true);
  });

  test('throttling is off by default, and never rejects a healthy host', async ({ server }) => {
    const fetch = client({ defaults: { throttle: { k: 2 } } });
    for (let i = 0; i < 50; i++) expect(await (await fetch(server.url)).text()).toBe('ok');
    expect(server.deliveries).toHaveLength(50);
    const plain = client();
    await (await plain(server.url)).text();
    expect(plain.stats().hosts[server.origin]?.throttle).toBeUndefined();
  });
});
