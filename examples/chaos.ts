/**
 * Unit-testing your own resilience policy with resilient-fetch/chaos: the policy your service
 * ships with, checked against injected resets, 503s, latency and an outage — seeded, so a failure
 * replays exactly. In your test runner each block is a test; here they are plain assertions.
 *
 *   node --import tsx examples/chaos.ts
 */
import assert from 'node:assert/strict';
import { chaos } from '../src/chaos.js'; // 'resilient-fetch/chaos' in your code
import { createFetch, type FetchLike, type ResilientFetchOptions } from '../src/index.js'; // 'resilient-fetch'
import { serve } from './local-server.js';

// --- Your code: the orders client and the policy it ships with. -------------------------------
const ordersPolicy = (fetch?: FetchLike): ResilientFetchOptions => ({
  ...(fetch && { fetch }), // production passes nothing; a test passes a chaos transport
  defaults: {
    retry: { limit: 3, backoff: { base: 5, max: 50 } },
    timeout: { attempt: 200, total: 2_000 },
    breaker: {
      volumeThreshold: 5,
      resetTimeout: 60_000,
      // While the orders service is down, answer from the last known list.
      fallback: () => Response.json({ orders: [], stale: true }),
    },
  },
});
const listOrders = async (fetch: FetchLike, base: string): Promise<{ orders: unknown[]; stale?: boolean }> => {
  const res = await fetch(`${base}orders`);
  if (!res.ok) throw new Error(`orders: ${res.status}`);
  return (await res.json()) as { orders: unknown[]; stale?: boolean };
};

// --- The tests. --------------------------------------------------------------------------------
const server = await serve((_req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ orders: [1, 2, 3] }));
});

/** Runs `check` with a client on `transport`; the client is closed afterwards. */
const withClient = async (transport: FetchLike, check: (fetch: FetchLike) => Promise<void>) => {
  const fetch = createFetch(ordersPolicy(transport));
  try {
    await check(fetch);
  } finally {
    await fetch.close();
  }
};

try {
  // 1. A flaky network: 15 % of attempts reset, 20 % of the rest answered 503 by an overloaded proxy.
  const overloaded = chaos({ outcome: { status: 503, headers: { 'retry-after': '0' } }, rate: 0.2, seed: 1 });
  const flaky = chaos({ fetch: overloaded, fault: 'ECONNRESET', rate: 0.15, seed: 2 });
  await withClient(flaky, async (fetch) => {
    for (let i = 0; i < 50; i++) assert.deepEqual(await listOrders(fetch, server.url), { orders: [1, 2, 3] });
  });
  const { calls, faults } = flaky.stats();
  console.log(
    `ok 1 - flaky network: 50 of 50 calls answered (${faults} resets and ${overloaded.stats().outcomes} 503s injected in ${calls} attempts)`,
  );

  // 2. A slow tail: 10 % of attempts take 5 s; the attempt timeout cuts them and the retry answers.
  const slow = chaos({ latency: 5_000, rate: 0.1, seed: 3 });
  await withClient(slow, async (fetch) => {
    for (let i = 0; i < 30; i++) {
      const started = performance.now();
      await listOrders(fetch, server.url);
      // Never the 5 s stall: the slowest call is bounded by the total timeout.
      assert.ok(performance.now() - started < 2_000);
    }
  });
  console.log(`ok 2 - slow tail: ${slow.stats().latencies} stalls of 5 s cut by the 200 ms attempt timeout`);

  // 3. An outage: every attempt fails. The breaker opens and the fallback answers without the network.
  const outage = chaos({ fault: 'ECONNREFUSED', rate: 1 });
  await withClient(outage, async (fetch) => {
    for (let i = 0; i < 5; i++) await assert.rejects(listOrders(fetch, server.url), TypeError);
    assert.deepEqual(await listOrders(fetch, server.url), { orders: [], stale: true });
  });
  console.log(`ok 3 - outage: breaker open after ${outage.stats().calls} refused attempts, stale list served`);
  console.log('policy holds under chaos: 3 of 3 checks passed');
} finally {
  await server.close();
}
