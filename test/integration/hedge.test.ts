import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, onTestFinished, vi } from 'vitest';
import { createFetch } from '../../src/index.js';
import type { ResilientEvent } from '../../src/index.js';
import { eventually, fakeTimeouts, sleep, startServer, test, type Handler } from '../support/server.js';
import { client } from '../support/client.js';

/**
 * The first delivery of each request id (`?id=`) stalls `stallMs` before answering; later ones
 * answer at once with `200 delivery <n>`. The stall timer is cleared when the client goes away.
 */
const firstStalls = (stallMs: number): Handler => {
  const seen = new Map<string, number>();
  return (req, res, _delivery, index) => {
    const id = new URL(req.url ?? '/', 'http://x').searchParams.get('id') ?? '';
    const count = seen.get(id) ?? 0;
    seen.set(id, count + 1);
    if (count === 0) {
      const timer = setTimeout(() => res.end(`stalled delivery ${index}`), stallMs);
      res.on('close', () => clearTimeout(timer));
      return;
    }
    res.end(`delivery ${index}`);
  };
};

describe('hedged requests against a real server', () => {
  test('a stalled first delivery: the hedge after 50 ms wins, two deliveries, the stalled one closed', async ({ server }) => {
    server.handle(firstStalls(2_000));
    const fetch = client({ defaults: { hedge: { delay: 50 } } });
    fakeTimeouts();
    const call = fetch(`${server.url}?id=a`);
    expect(await eventually(() => server.deliveries.length === 1)).toBe(true);
    await vi.advanceTimersByTimeAsync(49);
    expect(fetch.events.filter((e) => e.type === 'hedge')).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(fetch.events.filter((e) => e.type === 'hedge')).toMatchObject([{ type: 'hedge', host: server.origin, branch: 1 }]);
    const res = await call;
    vi.useRealTimers();
    expect(res.status).toBe(200);
    // The hedge's answer, while the first delivery was still stalled (its stall never ran out).
    expect(await res.text()).toBe('delivery 1');
    expect(server.deliveries).toHaveLength(2);
    expect(await eventually(() => server.deliveries[0]!.closedEarly)).toBe(true);
    expect(server.deliveries[1]!.closedEarly).toBe(false);
    expect(fetch.events.map((e) => e.type)).toEqual(['hedge', 'hedge-win']);
    expect(fetch.events.find((e) => e.type === 'hedge-win')).toMatchObject({ branch: 1, host: server.origin });
    expect(fetch.stats().hosts[server.origin]).toMatchObject({
      calls: 1,
      attempts: 2,
      hedges: 1,
      hedgeWins: 1,
      hedgeBudget: { calls: 1, spent: 1 },
    });
  });

  test('a fast server is never hedged', async ({ server }) => {
    const fetch = client({ defaults: { hedge: { delay: 2_000 } } });
    for (let i = 0; i < 5; i++) expect(await (await fetch(server.url)).text()).toBe('ok');
    expect(server.deliveries).toHaveLength(5);
    expect(fetch.events).toEqual([]);
    expect(fetch.stats().hosts[server.origin]).toMatchObject({ hedges: 0, hedgeWins: 0 });
  });

  test('a POST without Idempotency-Key is never hedged, even with POST listed', async ({ server }) => {
    server.handle(firstStalls(300));
    const fetch = client({ defaults: { hedge: { delay: 20, methods: ['GET', 'POST'] } } });
    const res = await fetch(`${server.url}?id=p`, { method: 'POST', body: 'order=1' });
    expect(await res.text()).toBe('stalled delivery 0');
    expect(server.deliveries).toHaveLength(1);
    expect(fetch.events.filter((e) => e.type === 'hedge')).toEqual([]);
  });

  test('a POST is not hedged by default, even with an Idempotency-Key', async ({ server }) => {
    server.handle(firstStalls(300));
    const fetch = client({ defaults: { hedge: { delay: 20 } } });
    const res = await fetch(`${server.url}?id=k`, { method: 'POST', body: 'x', headers: { 'Idempotency-Key': 'k-1' } });
    expect(await res.text()).toBe('stalled delivery 0');
    expect(server.deliveries).toHaveLength(1);
  });

  test('a POST with Idempotency-Key and POST listed is hedged with byte-identical bodies', async ({ server }) => {
    server.handle(firstStalls(2_000));
    const fetch = client({ defaults: { hedge: { delay: 20, methods: ['POST'] } } });
    const body = JSON.stringify({ order: 7, note: 'é✓' });
    const res = await fetch(`${server.url}?id=pk`, { method: 'POST', body, headers: { 'Idempotency-Key': 'order-7' } });
    expect(await res.text()).toBe('delivery 1');
    expect(server.deliveries).toHaveLength(2);
    expect(server.deliveries.map((d) => d.body.toString())).toEqual([body, body]);
    expect(server.deliveries.map((d) => d.headers['idempotency-key'])).toEqual(['order-7', 'order-7']);
  });

  test('hedging on for PUT: both branches deliver byte-identical bodies', async ({ server }) => {
    server.handle(firstStalls(2_000));
    const fetch = client({ defaults: { hedge: { delay: 20, methods: ['GET', 'PUT'] } } });
    const body = new Uint8Array(64 * 1024).map((_, i) => (i * 31) % 251);
    const res = await fetch(`${server.url}?id=put`, {
      method: 'PUT',
      body,
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(await res.text()).toBe('delivery 1');
    expect(server.deliveries).toHaveLength(2);
    const [first, second] = server.deliveries;
    expect(first!.method).toBe('PUT');
    expect(second!.method).toBe('PUT');
    expect(first!.sha256).toBe(second!.sha256);
    expect(Buffer.compare(first!.body, Buffer.from(body))).toBe(0);
    expect(second!.headers['content-type']).toBe('application/octet-stream');
  });

  test('a hedge branch answering 503 leaves the race to the primary', async ({ server }) => {
    server.handle((_req, res, _d, index) => {
      if (index === 0) setTimeout(() => res.end('slow but good'), 150);
      else {
        res.writeHead(503);
        res.end('unavailable');
      }
    });
    const fetch = client({ defaults: { hedge: { delay: 20 } } });
    const res = await fetch(server.url);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('slow but good');
    expect(server.deliveries).toHaveLength(2);
    expect(fetch.events.find((e) => e.type === 'hedge-win')).toMatchObject({ branch: 0 });
    expect(fetch.events.filter((e) => e.type === 'retry')).toEqual([]);
  });

  test('a 404 from the hedge ends the race; the primary is closed', async ({ server }) => {
    server.handle((_req, res, _d, index) => {
      if (index === 0) {
        const timer = setTimeout(() => res.end('late'), 2_000);
        res.on('close', () => clearTimeout(timer));
      } else {
        res.writeHead(404);
        res.end('missing');
      }
    });
    const fetch = client({ defaults: { hedge: { delay: 20 } } });
    const res = await fetch(server.url);
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('missing');
    expect(await eventually(() => server.deliveries[0]!.closedEarly)).toBe(true);
  });

  test('both branches fail with 503: the retry layer retries, and the retry is hedged too', async ({ server }) => {
    server.handle((_req, res, _d, index) => {
      if (index < 2) {
        setTimeout(
          () => {
            res.writeHead(503);
            res.end(`fail ${index}`);
          },
          index === 0 ? 60 : 0,
        );
      } else res.end('ok');
    });
    const fetch = client({ defaults: { hedge: { delay: 20 } } });
    const res = await fetch(server.url);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok');
    expect(fetch.events.filter((e) => e.type === 'retry')).toHaveLength(1);
    expect(server.deliveries.length).toBeGreaterThanOrEqual(3);
  });

  test('the caller’s abort stops every branch; the server sees both closed', async ({ server }) => {
    server.handle((_req, res) => {
      const timer = setTimeout(() => res.end('never'), 5_000);
      res.on('close', () => clearTimeout(timer));
    });
    const fetch = client({ defaults: { hedge: { delay: 20 } } });
    const caller = new AbortController();
    const reason = new Error('caller gave up');
    const pending = fetch(server.url, { signal: caller.signal });
    expect(await eventually(() => server.deliveries.length === 2)).toBe(true);
    caller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    expect(await eventually(() => server.deliveries.every((d) => d.closedEarly))).toBe(true);
    expect(server.deliveries).toHaveLength(2);
  });

  test('when the hedge budget is spent, no hedge is sent and an event says so', async ({ server }) => {
    server.handle(firstStalls(300));
    // Ratio 0: only the reserve of 1 hedge per second (10 per 10 s window) is left.
    const fetch = client({ defaults: { hedge: { delay: 10, budget: 0 } } });
    for (let i = 0; i < 11; i++) await (await fetch(`${server.url}?id=b${i}`)).text();
    expect(fetch.events.filter((e) => e.type === 'hedge')).toHaveLength(10);
    expect(fetch.events.filter((e) => e.type === 'budget-exhausted')).toEqual([
      { type: 'budget-exhausted', host: server.origin, kind: 'hedge' },
    ]);
    // 10 hedged calls deliver twice, the last one once (it waited out its stall).
    expect(server.deliveries).toHaveLength(21);
    expect(fetch.stats().hosts[server.origin]).toMatchObject({ hedges: 10, hedgeBudget: { spent: 10, left: 0 } });
  });

  test("'auto' learns the host's latency: after 30 fast calls a stalled one is hedged well before max", async ({ server }) => {
    const fetch = client({ defaults: { hedge: { delay: 'auto' } } });
    for (let i = 0; i < 30; i++) await (await fetch(`${server.url}?warm=${i}`)).text();
    const latency = (fetch.stats().hosts[server.origin] as unknown as { latency: { samples: number; p95: number } }).latency;
    // One sample per call, more if a warm-up call happened to be hedged on this loaded machine.
    expect(latency.samples).toBeGreaterThanOrEqual(30);
    // The learned delay: p95 (reported to 0.1 ms) clamped to [min 5, max 1,000]; the fallback before
    // 20 samples would be max. A local server's p95 is far below max.
    const learned = Math.max(5, latency.p95);
    expect(learned).toBeLessThan(1_000);
    fetch.events.length = 0;
    server.handle(firstStalls(2_000));
    const before = server.deliveries.length;
    fakeTimeouts();
    const call = fetch(`${server.url}?id=auto`);
    expect(await eventually(() => server.deliveries.length === before + 1)).toBe(true);
    // Within a fake millisecond of the learned delay either way: not yet, then the hedge.
    await vi.advanceTimersByTimeAsync(Math.floor(learned) - 1);
    expect(fetch.events.filter((e) => e.type === 'hedge')).toEqual([]);
    await vi.advanceTimersByTimeAsync(2);
    expect(fetch.events.filter((e) => e.type === 'hedge')).toMatchObject([{ type: 'hedge', branch: 1 }]);
    const res = await call;
    vi.useRealTimers();
    expect(await res.text()).toBe(`delivery ${before + 1}`);
  });

  test('the total timeout stops every branch with a TimeoutError', async ({ server }) => {
    server.handle((_req, res) => {
      const timer = setTimeout(() => res.end('never'), 5_000);
      res.on('close', () => clearTimeout(timer));
    });
    const fetch = client({ defaults: { hedge: { delay: 20 }, timeout: { total: 300 } } });
    const error = await fetch(server.url).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DOMException);
    expect((error as DOMException).name).toBe('TimeoutError');
    expect(server.deliveries).toHaveLength(2);
    expect(await eventually(() => server.deliveries.every((d) => d.closedEarly))).toBe(true);
  });

  test('a per-request policy can switch hedging off', async ({ server }) => {
    server.handle(firstStalls(200));
    const fetch = client({ defaults: { hedge: { delay: 20 } } });
    const res = await fetch(`${server.url}?id=off`, { policy: { hedge: false } });
    expect(await res.text()).toBe('stalled delivery 0');
    expect(server.deliveries).toHaveLength(1);
  });
});

/** A raw server whose even deliveries (the primaries) stall, then are reset; odd ones answer at once. */
const stallThenResetServer = async (resetAfterMs: number) => {
  let deliveries = 0;
  const primaries: Array<{ closedByClient: boolean; reset: boolean }> = [];
  const sockets = new Set<import('node:net').Socket>();
  const raw = http.createServer((req, res) => {
    req.resume();
    const index = deliveries++;
    if (index % 2 === 0) {
      const primary = { closedByClient: false, reset: false };
      primaries.push(primary);
      const timer = setTimeout(() => {
        primary.reset = true;
        res.destroy();
      }, resetAfterMs);
      res.on('close', () => {
        if (primary.reset) return;
        primary.closedByClient = true;
        clearTimeout(timer);
      });
    } else res.end(`hedge ${index}`);
  });
  raw.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        raw.closeAllConnections();
        raw.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(raw.address() as AddressInfo).port}/`, primaries, sockets };
};

const watchUnhandled = () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => void unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  onTestFinished(() => void process.off('unhandledRejection', onUnhandled));
  return unhandled;
};

describe('hedging with upstreams', () => {
  test('the hedge goes to a different upstream than the primary', async () => {
    let total = 0;
    let stalledOn = '';
    /** The first delivery across both instances stalls; every later one answers with its name. */
    const instance =
      (name: string): Handler =>
      (_req, res) => {
        if (total++ === 0) {
          stalledOn = name;
          const timer = setTimeout(() => res.end(`${name} (stalled)`), 2_000);
          res.on('close', () => clearTimeout(timer));
        } else res.end(name);
      };
    const a = await startServer(instance('a'));
    const b = await startServer(instance('b'));
    onTestFinished(async () => void (await Promise.all([a.close(), b.close()])));
    const fetch = client({ hosts: { 'orders.test:8080': { upstreams: [a.origin, b.origin], hedge: { delay: 20 } } } });
    const res = await fetch('http://orders.test:8080/orders/1');
    const answer = await res.text();
    // One delivery on each instance: the stalled primary on one, the winning hedge on the other.
    expect(a.deliveries).toHaveLength(1);
    expect(b.deliveries).toHaveLength(1);
    const [stalled, winner] = stalledOn === 'a' ? [a, b] : [b, a];
    expect(answer).toBe(stalledOn === 'a' ? 'b' : 'a');
    expect(await eventually(() => stalled.deliveries[0]!.closedEarly)).toBe(true);
    expect(stalled.deliveries[0]!.url).toBe('/orders/1');
    expect(winner.deliveries[0]!.url).toBe('/orders/1');
    expect(fetch.events.filter((e) => e.type === 'hedge')).toMatchObject([{ host: 'http://orders.test:8080', branch: 1 }]);
  });
});

describe('hygiene', () => {
  test('losers are closed by the client, errors after the win are absorbed, close() leaves no socket', async () => {
    const unhandled = watchUnhandled();
    const server = await stallThenResetServer(2_000);
    const events: ResilientEvent[] = [];
    const fetch = createFetch({ defaults: { hedge: { delay: 20, budget: false } }, onEvent: (e) => void events.push(e) });
    for (let i = 0; i < 3; i++) {
      const res = await fetch(server.url);
      expect(await res.text()).toBe(`hedge ${2 * i + 1}`);
    }
    expect(events.filter((e) => e.type === 'hedge-win').map((e) => (e as { branch: number }).branch)).toEqual([1, 1, 1]);
    // Each losing primary was aborted (its rejection came after its call had returned) and its
    // request closed by the client, long before the server's own reset.
    expect(await eventually(() => server.primaries.every((p) => p.closedByClient))).toBe(true);
    expect(server.primaries).toHaveLength(3);
    await fetch.close();
    expect(await eventually(() => server.sockets.size === 0)).toBe(true);
    await sleep(20);
    expect(unhandled).toEqual([]);
  });

  test('a loser that ignores its abort and fails after the winner returned causes no unhandled rejection', async () => {
    const unhandled = watchUnhandled();
    const server = await stallThenResetServer(150);
    const failures: unknown[] = [];
    // A transport that does not pass the signal on: the losing branch runs until the server resets it.
    const fetch = createFetch({
      defaults: { hedge: { delay: 20, budget: false } },
      fetch: (input, init) =>
        globalThis.fetch(input, { ...init, signal: null }).catch((error: unknown) => {
          failures.push(error);
          throw error;
        }),
    });
    onTestFinished(() => fetch.close());
    const res = await fetch(server.url);
    expect(await res.text()).toBe('hedge 1');
    expect(failures).toEqual([]);
    expect(await eventually(() => failures.length === 1)).toBe(true);
    expect(failures[0]).toBeInstanceOf(TypeError);
    expect(server.primaries).toEqual([{ closedByClient: false, reset: true }]);
    await sleep(20);
    expect(unhandled).toEqual([]);
  });
});
