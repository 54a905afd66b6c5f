/**
 * Failover between two instances when one is killed: `upstreams` lists the origins that serve a
 * host; when an attempt on one fails (here: connection refused after instance A is killed), the
 * retry goes to the next healthy one, and A's breaker keeps later calls away from it.
 *
 *   node --import tsx examples/failover.ts
 */
import { createFetch } from '../src/index.js'; // 'resilient-fetch' in your code
import { serve } from './local-server.js';

const a = await serve((_req, res) => void res.end('served by A'));
const b = await serve((_req, res) => void res.end('served by B'));

// Callers use A's address; the policy for that host says A and B both serve it.
const fetch = createFetch({
  hosts: {
    [new URL(a.origin).host]: {
      upstreams: [a.origin, b.origin],
      retry: { limit: 2, backoff: { base: 10, max: 50 } },
      breaker: { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeout: 30_000 },
    },
  },
  onEvent: (event) => {
    if (event.type === 'retry') console.log(`  retry: ${event.reason} on ${event.host}`);
    if (event.type === 'breaker') console.log(`  breaker ${event.host}: ${event.from} -> ${event.to}`);
  },
});

const call = async (i: number) => {
  try {
    const res = await fetch(`${a.url}orders/${i}`);
    return await res.text();
  } catch (error) {
    return `failed: ${(error as Error).message}`;
  }
};

let failed = 0;
try {
  for (let i = 0; i < 3; i++) console.log(`call ${i} (both up):  ${await call(i)}`);
  await a.close();
  console.log('instance A killed');
  for (let i = 3; i < 8; i++) {
    const answer = await call(i);
    if (!answer.startsWith('served by')) failed++;
    console.log(`call ${i} (A down):   ${answer}`);
  }
  console.log(`stats: ${JSON.stringify(fetch.stats().hosts)}`);
  console.log(failed === 0 ? 'every call answered after A was killed' : `${failed} call(s) failed after A was killed`);
  if (failed > 0) process.exitCode = 1;
} finally {
  await fetch.close();
  await b.close();
}
