/**
 * One policy config object for several services: defaults for everything, then per-host policies
 * merged over them field by field. Three local services stand in for users, payments and search.
 *
 *   node --import tsx examples/per-host.ts
 */
import { createFetch, type Policy, type ResilientFetchOptions } from '../src/index.js'; // 'resilient-fetch' in your code
import { serve } from './local-server.js';

// Each service fails its first request with a 503.
const flaky = (name: string) =>
  serve((_req, res, n) => {
    if (n === 0) {
      res.writeHead(503);
      res.end();
    } else res.end(`${name} ok`);
  });
const [users, payments, search] = await Promise.all([flaky('users'), flaky('payments'), flaky('search')]);
const hostOf = (origin: string) => new URL(origin).host; // host keys are URL.host: '127.0.0.1:port'

/** In a real service this object lives in config; keys would be 'users.internal', '*.example.com', ... */
const policies: ResilientFetchOptions = {
  defaults: {
    retry: { limit: 2, backoff: { base: 25, max: 500 } },
    timeout: { attempt: 2_000, total: 10_000 },
  },
  hosts: {
    // Reads from a fast internal service: retry harder, fail faster.
    [hostOf(users.origin)]: { retry: 4, timeout: { attempt: 500 } },
    // Payments: POST is retried only with an Idempotency-Key header, which these calls send.
    [hostOf(payments.origin)]: { retry: 1, breaker: { volumeThreshold: 5, resetTimeout: 30_000 } },
    // Search answers are cheap to lose: no retries.
    [hostOf(search.origin)]: { retry: false } satisfies Policy,
  },
};

const fetch = createFetch(policies);
try {
  const u = await fetch(`${users.url}users/42`);
  console.log(`users    -> ${u.status} ${await u.text()}`);
  const p = await fetch(`${payments.url}charges`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': 'charge-7f3a' },
    body: JSON.stringify({ amount: 1200 }),
  });
  console.log(`payments -> ${p.status} ${await p.text()}`);
  const s = await fetch(`${search.url}?q=shoes`);
  console.log(`search   -> ${s.status} (not retried: retry is off for this host)`);
  await s.body?.cancel();
  for (const [name, server] of [
    ['users', users],
    ['payments', payments],
    ['search', search],
  ] as const) {
    const { calls, attempts, retries } = fetch.stats().hosts[server.origin] ?? {};
    console.log(`stats ${name.padEnd(8)} calls=${calls} attempts=${attempts} retries=${retries}`);
  }
} finally {
  await fetch.close();
  await Promise.all([users.close(), payments.close(), search.close()]);
}
