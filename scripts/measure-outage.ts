/**
 * Quick outage measurement for the retry budget / throttle work (docs/budget.md): a real node:http
 * server on 127.0.0.1 answers 503 to everything for `OUTAGE` calls, then recovers for `RECOVERY`
 * calls, at concurrency 16. The full benchmark suite lives in bench/ (`npm run bench:outage`);
 * this is the short version used to pick the defaults.
 *
 *   node --import tsx scripts/measure-outage.ts [outageCalls] [recoveryCalls]
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createFetch, type Policy } from '../src/index.js';

const OUTAGE = Number(process.argv[2] ?? 1_000);
const RECOVERY = Number(process.argv[3] ?? 500);
const CONCURRENCY = 16;

let healthy = false;
let deliveries = 0;
const server = http.createServer((_req, res) => {
  deliveries++;
  if (healthy) res.end('ok');
  else {
    res.writeHead(503, { 'content-type': 'text/plain' });
    res.end('down');
  }
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

type Send = () => Promise<boolean>; // true: a 2xx came back
type Phase = { calls: number; deliveries: number; ok: number; failMs: number[]; ms: number };

const phase = async (send: Send, calls: number): Promise<Phase> => {
  const before = deliveries;
  const failMs: number[] = [];
  let ok = 0;
  let started = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (started < calls) {
      started++;
      const t = performance.now();
      const good = await send().catch(() => false);
      if (good) ok++;
      else failMs.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { calls, deliveries: deliveries - before, ok, failMs, ms: performance.now() - t0 };
};

const median = (values: number[]): number => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

const viaFetch =
  (fetch: (url: string) => Promise<Response>): Send =>
  async () => {
    const res = await fetch(url);
    await res.arrayBuffer();
    return res.ok;
  };

const configs: Array<[string, Policy | undefined]> = [
  ['plain fetch', undefined],
  ['naive retry (budget off)', { retry: { limit: 3, budget: false }, breaker: false }],
  ['budget on', { retry: { limit: 3 }, breaker: false }],
  ['budget + breaker on', { retry: { limit: 3 } }],
  ['budget + throttle on', { retry: { limit: 3 }, breaker: false, throttle: { k: 2 } }],
];

console.log(`outage: ${OUTAGE} calls, then recovery: ${RECOVERY} calls, concurrency ${CONCURRENCY}, retry.limit 3\n`);
console.log(
  '| configuration | deliveries per call (outage) | success rate (recovery) | median time to failure (outage) | outage phase wall time |',
);
console.log('|---|---|---|---|---|');
for (const [name, defaults] of configs) {
  const client = defaults ? createFetch({ defaults }) : undefined;
  const send = viaFetch(client ?? ((u) => fetch(u)));
  healthy = false;
  const down = await phase(send, OUTAGE);
  healthy = true;
  const up = await phase(send, RECOVERY);
  await client?.close();
  console.log(
    `| ${name} | ${(down.deliveries / down.calls).toFixed(3)} | ${((100 * up.ok) / up.calls).toFixed(1)} % | ${median(down.failMs).toFixed(1)} ms | ${(down.ms / 1_000).toFixed(1)} s |`,
  );
}
server.closeAllConnections();
server.close();
