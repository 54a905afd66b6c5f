/**
 * Issue 14: protection that never costs a call a retry would save. Every client here is
 * `createFetch()` with pure defaults (at most `hosts[...].upstreams`, or `breaker: false` where a
 * target says "with the breaker off"), against real servers on 127.0.0.1.
 */
import { describe, expect, onTestFinished, test } from 'vitest';
import { isCircuitOpenError } from '../../src/index.js';
import type { ResilientEvent } from '../../src/index.js';
import { startServer } from '../support/server.js';
import { defaultClient as client } from '../support/client.js';

/** Runs `calls` calls with at most `concurrency` at once; returns each call's status, or 0 when it threw. */
const run = async (calls: number, concurrency: number, call: (i: number) => Promise<Response>): Promise<number[]> => {
  const statuses: number[] = new Array(calls).fill(-1);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < calls; i = next++) {
      try {
        const res = await call(i);
        await res.arrayBuffer();
        statuses[i] = res.status;
      } catch {
        statuses[i] = 0;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return statuses;
};

/** A server that answers each call (by its path) from `plan(call, attempt)`: a status, or 'reset'. */
const planned = async (plan: (call: number, attempt: number) => number | 'reset') => {
  const attempts = new Map<number, number>();
  const server = await startServer((req, res) => {
    const call = Number(new URL(req.url ?? '/', 'http://x').pathname.slice(1));
    const attempt = attempts.get(call) ?? 0;
    attempts.set(call, attempt + 1);
    const answer = plan(call, attempt);
    if (answer === 'reset') req.socket.destroy();
    else res.writeHead(answer).end(String(answer));
  });
  onTestFinished(() => server.close());
  return server;
};

/** A deterministic "random" in [0, 1) per (call, attempt): the same faults for every client. */
const hash = (call: number, attempt: number): number => {
  let x = (call * 0x9e3779b1 + attempt * 0x85ebca6b + 0x27d4eb2f) >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  x ^= x >>> 16;
  return (x >>> 0) / 4_294_967_296;
};

describe('issue-14: the defaults succeed where a retry saves the call', () => {
  test('every call 503 then 200, 200 calls: every call is 200 (the budget refunds, the breaker counts calls)', async () => {
    const server = await planned((_call, attempt) => (attempt === 0 ? 503 : 200));
    const events: ResilientEvent[] = [];
    const fetch = client({ onEvent: (e) => void events.push(e) });
    const statuses = await run(200, 10, (i) => fetch(`${server.url}${i}`));
    expect(statuses.filter((s) => s === 200)).toHaveLength(200);
    expect(server.deliveries).toHaveLength(400);
    expect(events.filter((e) => e.type === 'budget-exhausted' || e.type === 'breaker')).toEqual([]);
    expect(fetch.stats().hosts[server.origin]).toMatchObject({
      breaker: { state: 'closed', fires: 200, successes: 200, failures: 0 },
      retryBudget: { refused: 0, spent: 0 },
    });
  });

  test('a 503, 503, 200 server gives 200 after three deliveries, however many calls came before', async () => {
    const server = await planned((_call, attempt) => (attempt < 2 ? 503 : 200));
    const fetch = client();
    const statuses = await run(300, 10, (i) => fetch(`${server.url}${i}`));
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(server.deliveries).toHaveLength(900);
  });

  test('flaky host (35 % of deliveries 503 or reset): the defaults save every call budget: false saves', async () => {
    const plan = (call: number, attempt: number) => {
      const r = hash(call, attempt);
      return r < 0.05 ? 'reset' : r < 0.35 ? 503 : 200;
    };
    const calls = 1_000;
    const defaults = await planned(plan);
    const unbudgeted = await planned(plan);
    const fetchDefaults = client();
    const fetchUnbudgeted = client({ defaults: { retry: { budget: false } } });
    const withDefaults = await run(calls, 16, (i) => fetchDefaults(`${defaults.url}${i}`));
    const withoutBudget = await run(calls, 16, (i) => fetchUnbudgeted(`${unbudgeted.url}${i}`));
    const ok = (statuses: number[]) => statuses.filter((s) => s === 200).length;
    // The same faults per (call, attempt): any call the defaults lose, the budget refused.
    expect(ok(withDefaults)).toBe(ok(withoutBudget));
    expect(ok(withDefaults) / calls).toBeGreaterThanOrEqual(0.94);
    expect(defaults.deliveries.length / calls).toBeLessThanOrEqual(1.6);
  });
});

describe('issue-14: the defaults still do not amplify an outage', () => {
  test('outage, every delivery 503, concurrency 16, breaker off: at most 1.15 deliveries per call', async () => {
    const server = await planned(() => 503);
    const fetch = client({ defaults: { breaker: false } });
    const statuses = await run(1_000, 16, (i) => fetch(`${server.url}${i}`));
    expect(statuses.every((s) => s === 503)).toBe(true);
    expect(server.deliveries.length / 1_000).toBeLessThanOrEqual(1.15);
  });

  test('outage, every delivery 503, concurrency 16, default breaker: at most 0.3 deliveries per call', async () => {
    const server = await planned(() => 503);
    const fetch = client();
    const statuses = await run(1_000, 16, (i) => fetch(`${server.url}${i}`));
    expect(statuses.every((s) => s === 503 || s === 0)).toBe(true);
    expect(server.deliveries.length / 1_000).toBeLessThanOrEqual(0.3);
    expect(fetch.stats().hosts[server.origin]).toMatchObject({ breaker: { state: 'open' } });
  });

  test('a one-second outage: the default breaker opens, probes after 1 s and serves again; a longer one doubles the wait', async () => {
    let down = true;
    const server = await planned(() => (down ? 503 : 200));
    const fetch = client();
    const origin = server.origin;
    const breakerMoves = () =>
      fetch.events.flatMap((e) => (e.type === 'breaker' && e.host === origin ? [`${e.from}->${e.to}`] : []));
    // Calls at concurrency 4 until the breaker opens.
    let i = 0;
    while (!breakerMoves().includes('closed->open')) await run(4, 4, () => fetch(`${server.url}${i++}`));
    const open = fetch.stats().hosts[origin]?.breaker;
    expect(open).toMatchObject({ state: 'open' });
    expect((open as { retryAfter: number }).retryAfter).toBeLessThanOrEqual(1_000);
    // Still down when the first probe goes out: it fails, and the breaker opens for 2 s.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await run(1, 1, () => fetch(`${server.url}${i++}`));
    expect(breakerMoves()).toEqual(['closed->open', 'open->half-open', 'half-open->open']);
    const reopened = fetch.stats().hosts[origin]?.breaker as { retryAfter: number };
    expect(reopened.retryAfter).toBeGreaterThan(1_000);
    expect(reopened.retryAfter).toBeLessThanOrEqual(2_000);
    // The host is back: the next probe closes it, and every call after it is a 200.
    down = false;
    const statuses: number[] = [];
    while (statuses.at(-1) !== 200) {
      statuses.push(...(await run(1, 1, () => fetch(`${server.url}${i++}`))));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(new Set(statuses)).toEqual(new Set(statuses.length > 1 ? [0, 200] : [200]));
    expect(breakerMoves().slice(-2)).toEqual(['open->half-open', 'half-open->closed']);
    expect(await run(50, 4, () => fetch(`${server.url}${i++}`))).toEqual(new Array(50).fill(200));
  });

  test('a POST without Idempotency-Key is never re-sent after a 503 or a reset', async () => {
    const server = await planned((call) => (call % 2 === 0 ? 503 : 'reset'));
    const fetch = client();
    const statuses = await run(100, 4, (i) => fetch(`${server.url}${i}`, { method: 'POST', body: `order ${i}` }));
    // Each call is answered 503 or fails (the reset, or the breaker the failed calls opened): none is sent twice.
    expect(statuses.every((s) => s === 503 || s === 0)).toBe(true);
    const perCall = new Map<string, number>();
    for (const d of server.deliveries) perCall.set(d.url, (perCall.get(d.url) ?? 0) + 1);
    expect([...perCall.values()].every((n) => n === 1)).toBe(true);
    expect(server.deliveries.length).toBeLessThanOrEqual(100);
  });
});

describe('issue-14: failover with the defaults', () => {
  test('1 of 2 upstreams killed at call 200 of 500 sequential GETs: no call fails, no refused retry spends the budget', async () => {
    const a = await startServer((_req, res) => void res.end('a'));
    const b = await startServer((_req, res) => void res.end('b'));
    onTestFinished(async () => void (await Promise.all([a.close(), b.close()])));
    const events: ResilientEvent[] = [];
    const fetch = client({
      hosts: { 'orders.test:8080': { upstreams: [a.origin, b.origin] } },
      onEvent: (e) => void events.push(e),
    });
    const statuses: number[] = [];
    for (let i = 0; i < 500; i++) {
      if (i === 200) await a.close();
      const res = await fetch(`http://orders.test:8080/${i}`).catch((e: unknown) => e);
      statuses.push(res instanceof Response ? res.status : 0);
      if (res instanceof Response) await res.arrayBuffer();
    }
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(events.some((e) => e.type === 'ejection' && e.host === a.origin)).toBe(true);
    expect(events.filter((e) => e.type === 'budget-exhausted')).toEqual([]);
    const stats = fetch.stats().hosts;
    expect(stats['http://orders.test:8080']).toMatchObject({ calls: 500, failures: 0 });
    // The refused retries went to b at once and spent nothing.
    expect((stats['http://orders.test:8080']?.retryBudget as { spent: number } | undefined)?.spent ?? 0).toBe(0);
    // A refused connection fails over at once; where the attempt went and the logical host are both named.
    const refused = events.find((e) => e.type === 'retry' && e.reason === 'ECONNREFUSED');
    expect(refused).toMatchObject({ host: a.origin, logicalHost: 'http://orders.test:8080', delay: 0 });
  });

  test("with upstreams, a sick upstream's Retry-After holds back only that upstream: the retry goes to the other at once", async () => {
    const sick = await startServer((_req, res) => void res.writeHead(503, { 'retry-after': '3' }).end());
    const well = await startServer((_req, res) => void res.end('well'));
    onTestFinished(async () => void (await Promise.all([sick.close(), well.close()])));
    const fetch = client({ hosts: { 'orders.test:8080': { upstreams: [sick.origin, well.origin], balance: 'round-robin' } } });
    for (let i = 0; i < 10; i++) expect(await (await fetch(`http://orders.test:8080/${i}`)).text()).toBe('well');
    // Counts, not times: the sick upstream got exactly the first call; every later call avoided it.
    expect(sick.deliveries).toHaveLength(1);
    expect(well.deliveries).toHaveLength(10);
    expect(fetch.stats().hosts[sick.origin]).toMatchObject({ pushback: { status: 503 } });
    expect(fetch.stats().hosts['http://orders.test:8080']).not.toHaveProperty('pushback');
  });

  test('every upstream refused by its breaker: CircuitOpenError for the logical origin', async () => {
    const a = await startServer((_req, res) => void res.writeHead(503).end());
    onTestFinished(() => a.close());
    const fetch = client({
      defaults: { breaker: { volumeThreshold: 2 } },
      hosts: { 'orders.test:8080': { upstreams: [a.origin], outlierDetection: false } },
    });
    for (let i = 0; i < 3; i++) await fetch('http://orders.test:8080/').catch(() => {});
    const error = await fetch('http://orders.test:8080/').catch((e: unknown) => e);
    expect(isCircuitOpenError(error)).toBe(true);
    expect((error as { host: string }).host).toBe('http://orders.test:8080');
  });
});
