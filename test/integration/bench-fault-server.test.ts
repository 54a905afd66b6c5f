import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PEERS,
  RETRIES,
  resilientAdapter,
  resilientDefaults,
  type Adapter,
  type AdapterFactory,
  type BenchRequest,
} from '../../bench/lib/adapters.js';
import { startFaultProcess, type FaultServer } from '../../bench/lib/fault-server.js';
import { tagged } from '../../bench/lib/scenario.js';

let server: FaultServer;
let runCounter = 0;
const nextRun = () => `t${++runCounter}`;

beforeAll(async () => {
  server = await startFaultProcess();
});
afterAll(async () => {
  await server.close();
});

const withAdapter = async <T>(factory: AdapterFactory, use: (adapter: Adapter) => Promise<T>): Promise<T> => {
  const adapter = factory();
  try {
    return await use(adapter);
  } finally {
    await adapter.close();
  }
};

const bare = PEERS[0]!;

describe('fault server (child process)', () => {
  it('counts deliveries per run and per call id', async () => {
    const run = nextRun();
    await withAdapter(bare, async (adapter) => {
      for (let i = 0; i < 3; i++) expect(await adapter.call(tagged(server.url(), run, i))).toBe(200);
      expect(await adapter.call(tagged(server.url(), run, 0))).toBe(200);
    });
    const stats = await server.stats(run);
    expect(stats.deliveries).toBe(4);
    expect(stats.calls).toBe(3);
    expect(stats.maxPerCall).toBe(2);
    expect(stats.statuses).toEqual({ '200': 4 });
    expect((await server.stats(nextRun())).deliveries).toBe(0);
  });

  it('fails with the asked status and Retry-After, and resets the socket when asked', async () => {
    const run = nextRun();
    const res = await fetch(server.url({ fp: 1, fs: 502, ra: 3 }), { headers: { 'x-bench-run': run } });
    expect(res.status).toBe(502);
    expect(res.headers.get('retry-after')).toBe('3');
    await res.arrayBuffer();
    await expect(withAdapter(bare, (adapter) => adapter.call(tagged(server.url({ rp: 1 }), run, 1)))).rejects.toThrow();
    const stats = await server.stats(run);
    expect(stats.resets).toBe(1);
    expect(stats.deliveries).toBe(2);
  });

  it('counts body hash mismatches against x-body-sha256', async () => {
    const run = nextRun();
    const body = new TextEncoder().encode('payload');
    const good = createHash('sha256').update(body).digest('hex');
    await withAdapter(bare, async (adapter) => {
      const post = (index: number, sha: string): BenchRequest =>
        tagged(server.url(), run, index, { method: 'POST', body, headers: { 'x-body-sha256': sha } });
      expect(await adapter.call(post(0, good))).toBe(200);
      expect(await adapter.call(post(1, 'f'.repeat(64)))).toBe(200);
    });
    const stats = await server.stats(run);
    expect(stats.mismatches).toBe(1);
    expect(stats.bodyBytes).toBe(2 * body.length);
  });

  it('counts a response the client abandoned as an abort', async () => {
    const run = nextRun();
    const controller = new AbortController();
    const pending = fetch(server.url({ lat: 2_000 }), { headers: { 'x-bench-run': run }, signal: controller.signal });
    // Wait until the server has the request, then abort.
    for (let i = 0; i < 200 && (await server.stats(run)).deliveries === 0; i++) await new Promise((r) => setTimeout(r, 10));
    controller.abort();
    await expect(pending).rejects.toThrow();
    let aborts = 0;
    for (let i = 0; i < 200 && aborts === 0; i++) {
      aborts = (await server.stats(run)).aborts;
      if (aborts === 0) await new Promise((r) => setTimeout(r, 10));
    }
    expect(aborts).toBe(1);
  });

  it('adds the tail delay to the chosen share of responses (lower bound only)', async () => {
    const run = nextRun();
    const start = performance.now();
    await withAdapter(bare, (adapter) => adapter.call(tagged(server.url({ tp: 1, td: 150 }), run, 0)));
    expect(performance.now() - start).toBeGreaterThanOrEqual(140);
  });

  it('down mode answers every request with the down status and counts it, until switched off', async () => {
    const run = nextRun();
    await server.setDown(503);
    try {
      await withAdapter(bare, async (adapter) => {
        expect(await adapter.call(tagged(server.url(), run, 0))).toBe(503);
      });
    } finally {
      await server.setDown(false);
    }
    await withAdapter(bare, async (adapter) => {
      expect(await adapter.call(tagged(server.url(), run, 1))).toBe(200);
    });
    const stats = await server.stats(run);
    expect(stats.downDeliveries).toBe(1);
    expect(stats.deliveries).toBe(2);
  });

  it('forget drops a run', async () => {
    const run = nextRun();
    await withAdapter(bare, (adapter) => adapter.call(tagged(server.url(), run, 0)));
    await server.forget(run);
    expect((await server.stats(run)).deliveries).toBe(0);
  });
});

describe('adapters use comparable retry settings', () => {
  const all: AdapterFactory[] = [
    ...PEERS,
    () => resilientAdapter('resilient-fetch', { retry: { budget: false }, breaker: false }),
    // The "(defaults)" row: only retry.limit set; one call is well inside the default budget's reserve.
    resilientDefaults,
  ];

  // GET against an always-503 endpoint: the bare transports deliver once, every retrying client 1 + RETRIES times.
  it.each(all.map((factory) => [factory().name, factory] as const))('%s: GET against 503', async (name, factory) => {
    const run = nextRun();
    const status = await withAdapter(factory, (adapter) =>
      adapter.call(tagged(server.url({ fp: 1, fs: 503 }), run, 0)).catch((error: unknown) => error),
    );
    const stats = await server.stats(run);
    const retrying = !['undici fetch (bare)', 'global fetch'].includes(name);
    expect(stats.deliveries).toBe(retrying ? 1 + RETRIES : 1);
    // RetryAgent turns the last retryable status into an error; every other client returns the 503.
    if (name === 'undici RetryAgent') expect(status).toBeInstanceOf(Error);
    else expect(status).toBe(503);
  });

  // POST with an Idempotency-Key: each library's own rule decides; replayed bodies stay byte-identical.
  const postRetried = new Set(['fetch-retry', 'cockatiel', 'p-retry + opossum', 'resilient-fetch', 'resilient-fetch (defaults)']);
  it.each(all.map((factory) => [factory().name, factory] as const))('%s: POST against 503', async (name, factory) => {
    const run = nextRun();
    const body = new Uint8Array(64 * 1024).map((_, i) => i % 251);
    const sha = createHash('sha256').update(body).digest('hex');
    await withAdapter(factory, (adapter) =>
      adapter
        .call(
          tagged(server.url({ fp: 1, fs: 503 }), run, 0, {
            method: 'POST',
            body,
            headers: { 'x-body-sha256': sha, 'idempotency-key': `${run}-0` },
          }),
        )
        .catch(() => undefined),
    );
    const stats = await server.stats(run);
    expect(stats.deliveries).toBe(postRetried.has(name) ? 1 + RETRIES : 1);
    expect(stats.mismatches).toBe(0);
    expect(stats.bodyBytes).toBe(stats.deliveries * body.length);
  });
});
