/**
 * resilient-fetch/chaos used as users will: the `fetch` option of `createFetch` (and of `install`),
 * wrapping Node's own fetch in front of a real node:http server on 127.0.0.1, so our own layers
 * (retry, budget, breaker, attempt timeout) are tested against injected faults, outcomes and latency.
 */
import { describe, expect, onTestFinished } from 'vitest';
import { chaos } from '../../src/chaos.js';
import { createFetch, install, isCircuitOpenError, type ResilientEvent, type ResilientFetchOptions } from '../../src/index.js';
import { sleep, test } from '../support/server.js';

const client = (options: ResilientFetchOptions) => {
  const fetch = createFetch(options);
  onTestFinished(() => fetch.close());
  return fetch;
};

/** Runs `calls` calls, at most `concurrency` at once; each call's status, or 0 when it rejected. */
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

describe('chaos as the transport of our own layers', () => {
  test('30 % injected 503s and 5 % injected resets: default retries save nearly every call, and every delivery is counted', async ({
    server,
  }) => {
    // Two strategies, each with its own rate and seed: the outer one fails 5 % of attempts with a
    // reset, the inner one answers 30 % of the rest with a 503; the others reach the server.
    const outcomes = chaos({ fetch: globalThis.fetch, outcome: { status: 503, body: 'injected' }, rate: 0.3, seed: 1 });
    const faults = chaos({ fetch: outcomes, fault: 'ECONNRESET', rate: 0.05, seed: 2 });
    const events: ResilientEvent[] = [];
    // Defaults everywhere (limit 2, budget, breaker) but a short back-off, so the test is quick.
    const fetch = client({
      fetch: faults,
      defaults: { retry: { backoff: { base: 1, max: 10 } } },
      onEvent: (e) => events.push(e),
    });

    const statuses = await run(600, 8, (i) => fetch(`${server.url}call/${i}`));

    const ok = statuses.filter((s) => s === 200).length;
    const attempts = fetch.stats().hosts[server.origin]?.attempts ?? 0;
    console.log(
      `[chaos-injection] 600 calls: ${ok} answered 200, ${attempts} attempts, ${faults.stats().faults} resets and ${outcomes.stats().outcomes} 503s injected, ${server.deliveries.length} deliveries`,
    );
    // Per attempt 1 − 0.95 × 0.7 = 33.5 % fail; three tries fail together 3.8 % of the time.
    expect(ok / 600).toBeGreaterThanOrEqual(0.93);
    expect(statuses.every((s) => s === 200 || s === 503 || s === 0)).toBe(true);
    // Every attempt went through the chaos wrappers, and only what they passed through was delivered.
    expect(faults.stats().calls).toBe(attempts);
    expect(outcomes.stats().calls).toBe(attempts - faults.stats().faults);
    expect(server.deliveries).toHaveLength(outcomes.stats().passedThrough);
    expect(server.deliveries).toHaveLength(ok);
    expect(faults.stats().faults).toBeGreaterThan(0);
    expect(outcomes.stats().outcomes).toBeGreaterThan(100);
    // Each retry is one of ours: one `retry` event per extra attempt.
    expect(events.filter((e) => e.type === 'retry')).toHaveLength(attempts - 600);
    expect(fetch.stats().hosts[server.origin]?.breaker).toMatchObject({ state: 'closed' });
  });

  test('rate 1.0 faults open the breaker, which then fails fast; turned off (enabled), the probe closes it', async ({
    server,
  }) => {
    let healthy = false;
    const transport = chaos({ fetch: globalThis.fetch, fault: true, rate: 1, enabled: () => !healthy, seed: 5 });
    const events: ResilientEvent[] = [];
    const fetch = client({
      fetch: transport,
      defaults: { retry: false, breaker: { volumeThreshold: 10, resetTimeout: 200 } },
      onEvent: (e) => events.push(e),
    });

    for (let i = 0; i < 10; i++) {
      const error = (await fetch(server.url).catch((e: unknown) => e)) as TypeError;
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toBe('fetch failed');
      expect((error.cause as { code?: string }).code).toBe('ECONNRESET');
    }
    for (let i = 0; i < 20; i++) expect(isCircuitOpenError(await fetch(server.url).catch((e: unknown) => e))).toBe(true);
    // Open: the 20 calls never reached the transport, let alone the server.
    expect(transport.stats()).toMatchObject({ calls: 10, faults: 10, passedThrough: 0 });
    expect(server.deliveries).toHaveLength(0);

    healthy = true;
    await sleep(250);
    const res = await fetch(server.url);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok');
    expect(server.deliveries).toHaveLength(1);
    expect(events.flatMap((e) => (e.type === 'breaker' ? [`${e.from}->${e.to}`] : []))).toEqual([
      'closed->open',
      'open->half-open',
      'half-open->closed',
    ]);
  });

  test("injected latency is cut by our attempt timeout (the layer's signal) and the retry is answered", async ({ server }) => {
    // The first attempt stalls for 10 s; later ones pass straight through.
    const transport = chaos({ fetch: globalThis.fetch, latency: 10_000, rate: (r) => (r.index === 0 ? 1 : 0) });
    const events: ResilientEvent[] = [];
    const fetch = client({
      fetch: transport,
      defaults: { timeout: { attempt: 100, total: 5_000 }, retry: { backoff: { base: 1, max: 5 } } },
      onEvent: (e) => events.push(e),
    });
    const started = performance.now();
    const res = await fetch(server.url);
    expect(res.status).toBe(200);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(events.filter((e) => e.type === 'retry')).toHaveLength(1);
    expect(transport.stats()).toMatchObject({ calls: 2, latencies: 1, passedThrough: 1 });
    expect(server.deliveries).toHaveLength(1);
  });

  test('idempotency rules hold against injected faults: a refused POST is retried, a reset one is not', async ({ server }) => {
    const refused = chaos({ fetch: globalThis.fetch, fault: 'ECONNREFUSED', rate: (r) => (r.index === 0 ? 1 : 0) });
    const refusedClient = client({ fetch: refused, defaults: { retry: { backoff: { base: 1, max: 5 } } } });
    const res = await refusedClient(server.url, { method: 'POST', body: 'order' });
    expect(res.status).toBe(200);
    expect(server.deliveries.map((d) => d.body.toString())).toEqual(['order']);

    const reset = chaos({ fetch: globalThis.fetch, fault: 'ECONNRESET', rate: (r) => (r.index === 0 ? 1 : 0) });
    const resetClient = client({ fetch: reset, defaults: { retry: { backoff: { base: 1, max: 5 } } } });
    await expect(resetClient(server.url, { method: 'POST', body: 'order' })).rejects.toThrow('fetch failed');
    expect(reset.stats().calls).toBe(1);
    expect(server.deliveries).toHaveLength(1);
  });

  test('install({ fetch: chaos(...) }): the default fetch (the global one, read per call) does not loop back into the client', async ({
    server,
  }) => {
    const transport = chaos({ outcome: { status: 503 }, rate: 0.5, seed: 11 });
    const restore = install({ fetch: transport, defaults: { retry: { limit: 6, backoff: { base: 1, max: 5 }, budget: false } } });
    onTestFinished(restore);
    const statuses = await run(20, 4, () => globalThis.fetch(server.url));
    expect(statuses.filter((s) => s === 200)).toHaveLength(20);
    expect(transport.stats().calls).toBe(20 + transport.stats().outcomes);
    expect(server.deliveries).toHaveLength(20);
  });
});
