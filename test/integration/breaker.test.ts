import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import CircuitBreaker from 'opossum';
import { describe, expect, onTestFinished, vi } from 'vitest';
import { CircuitOpenError, createFetch, isCircuitOpenError } from '../../src/index.js';
import type { ResilientEvent } from '../../src/index.js';
import type { ResilientFetch } from '../../src/client.js';
import type { BreakerOptions } from '../../src/options.js';
import { eventually, refusedPort, sleep, startServer, test } from '../support/server.js';
import { clientWith } from '../support/client.js';

const BREAKER: BreakerOptions = { volumeThreshold: 10, resetTimeout: 300 };

/** Retries off and a quick breaker, merged under each test's own options. */
const client = clientWith({ defaults: { retry: false, breaker: BREAKER } });

const breakerOf = (fetch: ResilientFetch, origin: string) =>
  fetch.stats().hosts[origin]?.breaker as { state: string; fires: number; failures: number; rejects: number } | undefined;

/** Polls (bounded) until the origin's breaker is in `state`. */
const waitForState = async (fetch: ResilientFetch, origin: string, state: string) => {
  for (let i = 0; i < 500 && breakerOf(fetch, origin)?.state !== state; i++) await sleep(10);
  expect(breakerOf(fetch, origin)?.state).toBe(state);
};

const transitions = (events: ResilientEvent[], host?: string) =>
  events.flatMap((e) => (e.type === 'breaker' && (!host || e.host === host) ? [`${e.from}->${e.to}`] : []));

const always = (status: number) => (_req: unknown, res: import('node:http').ServerResponse) => {
  res.writeHead(status);
  res.end(`status ${status}`);
};

describe('circuit breaker against a real server', () => {
  test('503 to everything: opens after volumeThreshold, fails fast, one probe, closes on recovery', async ({ server }) => {
    server.handle(always(503));
    const events: ResilientEvent[] = [];
    const fetch = client({ onEvent: (e) => events.push(e) });

    for (let i = 0; i < 10; i++) {
      const res = await fetch(server.url);
      expect(res.status).toBe(503);
      expect(await res.text()).toBe('status 503');
    }
    expect(server.deliveries).toHaveLength(10);
    expect(transitions(events)).toEqual(['closed->open']);

    for (let i = 0; i < 20; i++) {
      const error = await fetch(server.url).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CircuitOpenError);
      expect((error as CircuitOpenError).name).toBe('CircuitOpenError');
      expect((error as CircuitOpenError).host).toBe(server.origin);
      expect((error as CircuitOpenError).retryAfter).toBeLessThanOrEqual(300);
    }
    expect(server.deliveries).toHaveLength(10);

    // Half-open, still failing: of five concurrent calls exactly one reaches the server, and it re-opens.
    await waitForState(fetch, server.origin, 'half-open');
    server.handle((_req, res) => void setTimeout(() => always(503)(_req, res), 50));
    const probing = await Promise.all(Array.from({ length: 5 }, () => fetch(server.url).catch((e: unknown) => e)));
    expect(server.deliveries).toHaveLength(11);
    expect(probing.filter((r) => r instanceof Response && r.status === 503)).toHaveLength(1);
    expect(probing.filter(isCircuitOpenError)).toHaveLength(4);
    expect(breakerOf(fetch, server.origin)?.state).toBe('open');

    // Recovered: the next probe closes the breaker and traffic flows again.
    server.handle((_req, res) => void setTimeout(() => res.end('ok'), 50));
    await waitForState(fetch, server.origin, 'half-open');
    const recovering = await Promise.all(Array.from({ length: 5 }, () => fetch(server.url).catch((e: unknown) => e)));
    expect(server.deliveries).toHaveLength(12);
    expect(recovering.filter((r) => r instanceof Response && r.status === 200)).toHaveLength(1);
    expect(breakerOf(fetch, server.origin)?.state).toBe('closed');
    const after = await Promise.all(Array.from({ length: 10 }, () => fetch(server.url)));
    expect(after.every((r) => r.status === 200)).toBe(true);
    expect(server.deliveries).toHaveLength(22);
    expect(transitions(events)).toEqual([
      'closed->open',
      'open->half-open',
      'half-open->open',
      'open->half-open',
      'half-open->closed',
    ]);
    expect(events.filter((e) => e.type === 'breaker').every((e) => e.host === server.origin)).toBe(true);
  });

  test('an open breaker does not burn retries: CircuitOpenError is not retried', async ({ server }) => {
    server.handle(always(503));
    const events: ResilientEvent[] = [];
    const fetch = client({
      defaults: { retry: { backoff: { base: 1, max: 2 }, budget: false }, breaker: { volumeThreshold: 4, resetTimeout: 10_000 } },
      onEvent: (e) => events.push(e),
    });
    // The breaker counts calls: four failed calls of three attempts each open it.
    for (let i = 0; i < 4; i++) expect((await fetch(server.url)).status).toBe(503);
    expect(server.deliveries).toHaveLength(12);
    await eventually(() => breakerOf(fetch, server.origin)?.state === 'open');
    expect(breakerOf(fetch, server.origin)).toMatchObject({ state: 'open', fires: 4, failures: 4 });
    for (let i = 0; i < 5; i++) await expect(fetch(server.url)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(server.deliveries).toHaveLength(12);
    const retries = events.filter((e) => e.type === 'retry');
    expect(retries).toHaveLength(8);
    expect(retries.every((e) => e.type === 'retry' && e.reason === 'status 503')).toBe(true);
  });

  test('two hosts: one host open changes nothing for the other', async ({ server }) => {
    server.handle(always(503));
    const healthy = await startServer(always(200));
    onTestFinished(() => healthy.close());
    const fetch = client({ defaults: { breaker: { volumeThreshold: 10, resetTimeout: 60_000 } } });
    for (let i = 0; i < 10; i++) await fetch(server.url);
    await expect(fetch(server.url)).rejects.toBeInstanceOf(CircuitOpenError);
    for (let i = 0; i < 30; i++) expect((await fetch(healthy.url)).status).toBe(200);
    expect(healthy.deliveries).toHaveLength(30);
    expect(breakerOf(fetch, server.origin)).toMatchObject({ state: 'open', failures: 10, rejects: 1 });
    expect(breakerOf(fetch, healthy.origin)).toMatchObject({ state: 'closed', fires: 30, successes: 30, failures: 0 });
  });

  test('4xx never open the breaker', async ({ server }) => {
    server.handle(always(404));
    const fetch = client();
    for (let i = 0; i < 30; i++) expect((await fetch(server.url)).status).toBe(404);
    expect(server.deliveries).toHaveLength(30);
    expect(breakerOf(fetch, server.origin)).toMatchObject({ state: 'closed', fires: 30, successes: 30, failures: 0, rejects: 0 });
  });

  test('connection refused counts as a failure; then calls fail fast', async () => {
    const port = await refusedPort();
    const fetch = client();
    for (let i = 0; i < 10; i++) {
      const error = await fetch(`http://127.0.0.1:${port}/`).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TypeError);
    }
    await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(breakerOf(fetch, `http://127.0.0.1:${port}`)).toMatchObject({ state: 'open', failures: 10 });
  });

  test('attempt timeouts count as failures', async ({ server }) => {
    server.handle(() => {}); // never answers; the fixture closes the sockets on teardown
    const fetch = client({ defaults: { breaker: { volumeThreshold: 3, resetTimeout: 10_000 }, timeout: { attempt: 200 } } });
    for (let i = 0; i < 3; i++) await expect(fetch(server.url)).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(breakerOf(fetch, server.origin)).toMatchObject({ state: 'open', failures: 3 });
    const before = breakerOf(fetch, server.origin)?.fires;
    await expect(fetch(server.url)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(breakerOf(fetch, server.origin)).toMatchObject({ fires: before, rejects: 1 });
  });

  test("a caller's abort is not a failure", async ({ server }) => {
    server.handle(() => {});
    const fetch = client({ defaults: { breaker: { volumeThreshold: 3, resetTimeout: 10_000 } } });
    for (let i = 0; i < 10; i++) {
      const controller = new AbortController();
      const pending = fetch(server.url, { signal: controller.signal });
      for (let j = 0; j < 100 && server.deliveries.length <= i; j++) await sleep(5);
      controller.abort(new Error(`stop ${i}`));
      await expect(pending).rejects.toThrow(`stop ${i}`);
    }
    expect(server.deliveries).toHaveLength(10);
    // Issue 14 item 2: not counted at all, so aborts cannot water the error rate down.
    expect(breakerOf(fetch, server.origin)).toMatchObject({ state: 'closed', fires: 0, successes: 0, failures: 0 });
  });

  test('total timeouts are not failures, with or without a caller signal', async ({ server }) => {
    server.handle(() => {});
    const fetch = client({
      defaults: { breaker: { volumeThreshold: 3, resetTimeout: 10_000 }, timeout: { attempt: 5_000, total: 100 } },
    });
    for (let i = 0; i < 6; i++) {
      const init = i % 2 === 0 ? {} : { signal: new AbortController().signal };
      await expect(fetch(server.url, init)).rejects.toMatchObject({
        name: 'TimeoutError',
        message: expect.stringContaining('total 100 ms'),
      });
    }
    expect(server.deliveries).toHaveLength(6);
    // Issue 14 item 2: not counted at all.
    expect(breakerOf(fetch, server.origin)).toMatchObject({ state: 'closed', fires: 0, successes: 0, failures: 0 });
  });

  test('fallback answers while open; the server receives nothing', async ({ server }) => {
    server.handle(always(503));
    const events: ResilientEvent[] = [];
    const fetch = client({
      defaults: {
        retry: false,
        breaker: { ...BREAKER, fallback: (request) => Response.json({ cached: true, url: request.url }) },
      },
      onEvent: (e) => events.push(e),
    });
    for (let i = 0; i < 10; i++) expect((await fetch(`${server.url}items`)).status).toBe(503);
    const res = await fetch(`${server.url}items`);
    expect(res).toBeInstanceOf(Response);
    expect(await res.json()).toEqual({ cached: true, url: `${server.url}items` });
    expect(server.deliveries).toHaveLength(10);
    expect(events.filter((e) => e.type === 'fallback')).toEqual([
      { type: 'fallback', host: server.origin, reason: 'ERR_CIRCUIT_OPEN' },
    ]);
  });

  test('a per-request policy can switch the breaker off', async ({ server }) => {
    server.handle(always(503));
    const fetch = client();
    for (let i = 0; i < 10; i++) await fetch(server.url);
    await expect(fetch(server.url)).rejects.toBeInstanceOf(CircuitOpenError);
    expect((await fetch(server.url, { policy: { breaker: false } })).status).toBe(503);
    expect(server.deliveries).toHaveLength(11);
  });

  test('10,000 distinct hostnames leave the breaker map at its bound', async ({ server }) => {
    const shutdown = vi.spyOn(CircuitBreaker.prototype, 'shutdown');
    onTestFinished(() => shutdown.mockRestore());
    const fetch = createFetch({
      maxHosts: 100,
      defaults: { retry: false },
      // Every hostname is served by the local server.
      fetch: (input, init) => {
        const url = new URL(String(input));
        return globalThis.fetch(`${server.origin}${url.pathname}`, init);
      },
    });
    const total = 10_000;
    const lanes = 20;
    await Promise.all(
      Array.from({ length: lanes }, async (_, lane) => {
        for (let i = lane; i < total; i += lanes) {
          const res = await fetch(`http://h${i}.example.test/n/${i}`);
          expect(res.status).toBe(200);
          await res.arrayBuffer();
        }
      }),
    );
    expect(server.deliveries).toHaveLength(total);
    const hosts = Object.values(fetch.stats().hosts);
    expect(hosts).toHaveLength(100);
    expect(hosts.every((h) => (h.breaker as { state: string } | undefined)?.state === 'closed')).toBe(true);
    expect(shutdown).toHaveBeenCalledTimes(total - 100);
    await fetch.close();
    expect(shutdown).toHaveBeenCalledTimes(total);
  }, 300_000);

  test("an open breaker does not keep the process alive (its timers are unref'd)", async ({ server }) => {
    server.handle(always(503));
    const dir = await mkdtemp(path.join(tmpdir(), 'rf-breaker-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const script = path.join(dir, 'open-breaker.mts');
    const entry = pathToFileURL(path.resolve('src/index.js')).href;
    await writeFile(
      script,
      [
        `import { createFetch, isCircuitOpenError } from ${JSON.stringify(entry)};`,
        `const url = process.argv[2];`,
        `const fetch = createFetch({ defaults: { retry: false, breaker: { volumeThreshold: 2, resetTimeout: 600_000 } } });`,
        `for (let i = 0; i < 2; i++) await (await fetch(url)).arrayBuffer();`,
        `const error = await fetch(url).catch((e) => e);`,
        `console.log(isCircuitOpenError(error), fetch.stats().hosts[new URL(url).origin].breaker.state);`,
        `// no fetch.close(): the process must still exit on its own`,
      ].join('\n'),
    );
    const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const child = execFile(process.execPath, ['--import', 'tsx', script, server.url], { timeout: 60_000 }, (_error, out) =>
        resolve({ code: child.exitCode, stdout: out }),
      );
    });
    expect(stdout.trim()).toBe('true open');
    expect(code).toBe(0);
  }, 90_000);
});
