/**
 * The seeds' experiment: two instances of a service behind `upstreams`, one killed (sockets
 * destroyed, port closed) in the middle of the traffic. Every call must still succeed, by retrying
 * on the other instance; the dead one is ejected at its first refused connection, and when it comes
 * back on its port, traffic returns to it once its ejection ends.
 */
import type { ServerResponse } from 'node:http';
import { describe, expect, onTestFinished, test } from 'vitest';
import { CircuitOpenError } from '../../src/index.js';
import type { ResilientFetch } from '../../src/client.js';
import type { Policy } from '../../src/options.js';
import { client } from '../support/client.js';
import { type Handler, refusedPort, sleep, startServer, type TestServer } from '../support/server.js';

const SERVICE = 'http://orders.test:8080';

const answer =
  (name: string, delayMs = 0): Handler =>
  (_req, res: ServerResponse) => {
    const send = () => res.end(name);
    if (delayMs > 0) setTimeout(send, delayMs);
    else send();
  };

const setup = async (policy: Policy = { balance: 'round-robin' }) => {
  const a = await startServer(answer('a'));
  const b = await startServer(answer('b'));
  const servers: TestServer[] = [a, b];
  onTestFinished(async () => void (await Promise.all(servers.map((s) => s.close()))));
  const fetch = client({
    defaults: {
      // No retry budget here: the experiment is about failover, and half the calls fail over at once.
      retry: { budget: false },
      breaker: { volumeThreshold: 5, resetTimeout: 200, rollingCountTimeout: 1_000, rollingCountBuckets: 10 },
    },
    hosts: { 'orders.test:8080': { upstreams: [a.origin, b.origin], ...policy } },
  });
  return { a, b, servers, fetch, events: fetch.events };
};

const stateOf = (fetch: ResilientFetch, origin: string) =>
  (fetch.stats().hosts[origin]?.breaker as { state?: string } | undefined)?.state;

/** One GET through the service name; returns which instance answered. */
const get = async (fetch: ResilientFetch, i: number): Promise<string> => {
  const res = await fetch(`${SERVICE}/orders/${i}?page=1`);
  expect(res.status).toBe(200);
  return res.text();
};

/** Brings the killed instance back on its port, then calls (bounded) until it answers again. */
const revive = async (ctx: Awaited<ReturnType<typeof setup>>) => {
  const { a, fetch, events, servers } = ctx;
  // While it is down, it was ejected: at its first refused connection, or after the resets of the
  // requests it had in flight when it died (every call still succeeds).
  for (let i = 0; i < 5_000 && !events.some((e) => e.type === 'ejection' && e.host === a.origin); i++) await get(fetch, i);
  const ejection = events.find((e) => e.type === 'ejection' && e.host === a.origin);
  expect(ejection).toMatchObject({ logicalHost: SERVICE });
  expect(['refused', 'consecutive failures']).toContain((ejection as { reason: string }).reason);
  expect((fetch.stats().hosts[a.origin]?.outlier as { ejections: number }).ejections).toBeGreaterThanOrEqual(1);

  const back = await startServer(answer('a again'), a.port);
  servers.push(back);
  const answers: string[] = [];
  // Bounded: the ejection in force ends within maxEjectionTime (60 s by default; here at most a few seconds).
  for (let i = 0; i < 3_000 && back.deliveries.length < 5; i++) {
    answers.push(await get(fetch, i));
    await sleep(5);
  }
  expect(back.deliveries.length).toBeGreaterThanOrEqual(5);
  expect(answers).toContain('a again');
  expect(fetch.stats().hosts[a.origin]?.outlier).toMatchObject({ ejected: false });
  return back;
};

describe('upstreams: failover across instances', () => {
  test('calls go round robin over the instances, with path, query and the upstream Host header', async () => {
    const { a, b, fetch } = await setup();
    const answers: string[] = [];
    for (let i = 0; i < 10; i++) answers.push(await get(fetch, i));
    expect(answers).toEqual(['a', 'b', 'a', 'b', 'a', 'b', 'a', 'b', 'a', 'b']);
    expect(a.deliveries.map((d) => d.url)).toEqual([
      '/orders/0?page=1',
      '/orders/2?page=1',
      '/orders/4?page=1',
      '/orders/6?page=1',
      '/orders/8?page=1',
    ]);
    expect(a.deliveries[0]?.headers.host).toBe(`127.0.0.1:${a.port}`);
    expect(b.deliveries[0]?.headers.host).toBe(`127.0.0.1:${b.port}`);
  });

  test('kill one instance in the middle of 500 sequential GETs: every call succeeds, it is ejected, and it rejoins once back', async () => {
    const ctx = await setup();
    const { a, b, fetch, events } = ctx;
    // The kill happens while a request to `a` is in flight: its socket is destroyed under it.
    a.handle((_req, res, _d, index) => {
      if (index === 125) void a.close();
      else res.end('a');
    });
    const answers: string[] = [];
    for (let i = 0; i < 500; i++) answers.push(await get(fetch, i));
    expect(answers).toHaveLength(500);
    expect(a.deliveries).toHaveLength(126);
    expect(answers.filter((x) => x === 'a')).toHaveLength(125);
    expect(answers.filter((x) => x === 'b')).toHaveLength(375);
    expect(b.deliveries.length).toBeGreaterThanOrEqual(375);
    // Failover happened by retrying: the retries are the ones that went to the dead instance.
    expect(events.some((e) => e.type === 'retry')).toBe(true);
    await revive(ctx);
  });

  test('kill one instance in the middle of 500 concurrent GETs: every call succeeds, it is ejected, and it rejoins once back', async () => {
    const ctx = await setup();
    const { a, b, fetch } = ctx;
    a.handle((_req, res, _d, index) => {
      if (index === 50)
        void a.close(); // kills every request to `a` in flight
      else setTimeout(() => res.end('a'), 20);
    });
    b.handle(answer('b', 5));
    const answers = await Promise.all(Array.from({ length: 500 }, (_, i) => get(fetch, i)));
    expect(answers).toHaveLength(500);
    expect(answers.every((x) => x === 'a' || x === 'b')).toBe(true);
    expect(answers.filter((x) => x === 'b').length).toBeGreaterThanOrEqual(250);
    await revive(ctx);
  });

  test('all instances open: CircuitOpenError for the service host, and nothing is sent', async () => {
    const { a, b, fetch } = await setup({ breaker: { volumeThreshold: 4, resetTimeout: 60_000 }, outlierDetection: false });
    a.handle((_req, res) => void res.writeHead(503).end());
    b.handle((_req, res) => void res.writeHead(503).end());
    for (let i = 0; i < 4 && stateOf(fetch, b.origin) !== 'open'; i++) await fetch(`${SERVICE}/`).catch(() => {});
    expect(stateOf(fetch, a.origin)).toBe('open');
    expect(stateOf(fetch, b.origin)).toBe('open');
    const sent = a.deliveries.length + b.deliveries.length;
    const error = await fetch(`${SERVICE}/`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect((error as CircuitOpenError).host).toBe('http://orders.test:8080');
    expect((error as CircuitOpenError).retryAfter).toBeGreaterThan(0);
    expect(a.deliveries.length + b.deliveries.length).toBe(sent);
  });

  test('a POST refused by a dead instance fails over and is delivered exactly once', async () => {
    const live = await startServer(answer('live'));
    onTestFinished(() => live.close());
    const dead = `http://127.0.0.1:${await refusedPort()}`;
    const fetch = client({
      defaults: { retry: { budget: false }, breaker: { volumeThreshold: 1_000 } },
      hosts: { 'orders.test:8080': { upstreams: [dead, live.origin] } },
    });
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${SERVICE}/orders`, { method: 'POST', body: `order ${i}` });
      expect(await res.text()).toBe('live');
    }
    expect(live.deliveries.map((d) => d.body.toString())).toEqual([
      'order 0',
      'order 1',
      'order 2',
      'order 3',
      'order 4',
      'order 5',
    ]);
  });
});
