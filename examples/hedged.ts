/**
 * A hedged GET for long-tail latency: one request in five is slow (800 ms). Without hedging the
 * slow ones cost 800 ms; with `hedge: { delay: 50 }` a second copy goes out after 50 ms and the
 * first good answer wins, the loser is aborted.
 *
 *   node --import tsx examples/hedged.ts
 */
import { createFetch, type Policy } from '../src/index.js'; // 'resilient-fetch' in your code
import { serve, sleep } from './local-server.js';

const server = await serve(async (_req, res, n) => {
  if (n % 5 === 0) await sleep(800); // the long tail
  if (!res.destroyed) res.end(`answer #${n}`);
});

const run = async (label: string, policy: Policy) => {
  let hedges = 0;
  let wins = 0;
  const fetch = createFetch({
    defaults: policy,
    onEvent: (event) => {
      if (event.type === 'hedge') hedges++;
      if (event.type === 'hedge-win' && event.branch > 0) wins++;
    },
  });
  const latencies: number[] = [];
  try {
    for (let i = 0; i < 10; i++) {
      const started = performance.now();
      await (await fetch(`${server.url}item/${i}`)).text();
      latencies.push(performance.now() - started);
    }
    console.log(`stats (${label}):`, JSON.stringify(fetch.stats().hosts[server.origin]));
  } finally {
    await fetch.close();
  }
  latencies.sort((a, b) => a - b);
  const worst = Math.round(latencies.at(-1) ?? 0);
  console.log(
    `${label.padEnd(12)} median ${Math.round(latencies[5] ?? 0)} ms, worst ${worst} ms, hedges sent ${hedges}, won by a hedge ${wins}`,
  );
  return { worst, hedges };
};

try {
  const plain = await run('no hedging', { hedge: false, retry: false });
  const hedged = await run('hedge 50 ms', { hedge: { delay: 50 }, retry: false });
  console.log(`hedging cut the worst latency from ${plain.worst} ms to ${hedged.worst} ms`);
  if (hedged.hedges === 0) {
    console.error('no hedge was sent: is the hedge layer in this build?');
    process.exitCode = 1;
  }
} finally {
  await server.close();
}
