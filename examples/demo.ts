/**
 * npm run demo — a fault-injecting server on 127.0.0.1, the same batch of GETs through plain fetch
 * and through resilient-fetch, and a table of what each got. No arguments, no network but loopback.
 *
 * Faults, drawn per delivery from a seeded generator: 8 % answer 503, 3 % reset the socket before
 * answering, 2 % answer 429 with `Retry-After: 1`; every answer takes 1–4 ms.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createFetch, type ResilientEvent } from '../src/index.js';

const CALLS = Number(process.env.DEMO_CALLS ?? 600);
const CONCURRENCY = 16;
const SEED = Number(process.env.DEMO_SEED ?? 42);

/** mulberry32: a small seeded PRNG, so every run injects the same faults. */
const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
};

const startFaultyServer = async (seed: number) => {
  const random = prng(seed);
  const deliveries = new Map<string, number>();
  const faults = { '503': 0, reset: 0, '429 + Retry-After': 0 };
  const server = http.createServer((req, res) => {
    const id = String(req.headers['x-call-id']);
    deliveries.set(id, (deliveries.get(id) ?? 0) + 1);
    const roll = random();
    const latency = 1 + random() * 3;
    setTimeout(() => {
      if (roll < 0.08) {
        faults['503']++;
        res.writeHead(503, { 'content-type': 'text/plain' }).end('unavailable');
      } else if (roll < 0.11) {
        faults.reset++;
        req.socket.destroy();
      } else if (roll < 0.13) {
        faults['429 + Retry-After']++;
        res.writeHead(429, { 'retry-after': '1' }).end('slow down');
      } else {
        res.writeHead(200, { 'content-type': 'application/json' }).end(`{"id":"${id}"}`);
      }
    }, latency);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/items`;
  return {
    url,
    deliveries,
    faults,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
};

type Row = { client: string; ok: number; calls: number; attempts: number; latencies: number[]; errors: number };

const runBatch = async (name: string, fetchFn: typeof fetch, url: string, deliveries: Map<string, number>): Promise<Row> => {
  const row: Row = { client: name, ok: 0, calls: CALLS, attempts: 0, latencies: [], errors: 0 };
  let next = 0;
  const worker = async () => {
    while (next < CALLS) {
      const id = `${name}-${next++}`;
      const started = performance.now();
      try {
        const res = await fetchFn(url, { headers: { 'x-call-id': id } });
        await res.arrayBuffer();
        if (res.ok) row.ok++;
      } catch {
        row.errors++;
      }
      row.latencies.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  for (const [id, count] of deliveries) if (id.startsWith(`${name}-`)) row.attempts += count;
  return row;
};

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
};

const printTable = (rows: Array<Record<string, string | number>>) => {
  const columns = Object.keys(rows[0] ?? {});
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ');
  console.log(line(columns));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const row of rows) console.log(line(columns.map((c) => String(row[c]))));
  console.log();
};

const main = async () => {
  const server = await startFaultyServer(SEED);
  const events: ResilientEvent[] = [];
  const resilient = createFetch({ onEvent: (event) => events.push(event) });

  console.log(`resilient-fetch demo: ${CALLS} GETs at concurrency ${CONCURRENCY} against ${server.url}`);
  console.log('faults per delivery: 8 % 503, 3 % socket reset, 2 % 429 with Retry-After: 1 (seed ' + SEED + ')\n');

  const plain = await runBatch('plain-fetch', globalThis.fetch, server.url, server.deliveries);
  const ours = await runBatch('resilient-fetch', resilient as typeof fetch, server.url, server.deliveries);
  // The same batch with the retry budget off, to show the budget costs no call a retry would save.
  const unbudgeted = createFetch({ defaults: { retry: { budget: false } } });
  const noBudget = await runBatch('resilient-fetch, budget off', unbudgeted as typeof fetch, server.url, server.deliveries);
  await unbudgeted.close();

  const table = [plain, ours, noBudget].map((row) => ({
    client: row.client,
    'success rate': `${((row.ok / row.calls) * 100).toFixed(1)} %`,
    'rejected (errors)': row.errors,
    'attempts per call': (row.attempts / row.calls).toFixed(2),
    'p50 ms': percentile(row.latencies, 50).toFixed(1),
    'p99 ms': percentile(row.latencies, 99).toFixed(1),
  }));
  printTable(table);

  const retries = events.filter((e) => e.type === 'retry');
  const reasons = new Map<string, number>();
  for (const e of retries) reasons.set(e.reason, (reasons.get(e.reason) ?? 0) + 1);
  console.log(`faults injected: ${JSON.stringify(server.faults)}`);
  console.log(`resilient-fetch retried ${retries.length} times: ${JSON.stringify(Object.fromEntries(reasons))}`);
  console.log('p99 of resilient-fetch includes the 1 s waits that Retry-After asked for (server pushback).');
  const origin = new URL(server.url).origin;
  const budget = resilient.stats().hosts[origin]?.retryBudget as { spent: number; refused: number; refunded: number } | undefined;
  console.log(
    `retry budget (defaults): ${budget?.refused ?? 0} retries refused, ${budget?.refunded ?? 0} charges refunded, ${budget?.spent ?? 0} charged in the window.`,
  );
  console.log('Why the defaults match "budget off" here: the budget charges a retry only once it has failed and gives the');
  console.log('charge back when the call then succeeds; on this flaky host almost every retry succeeds, so the 10 % cap');
  console.log('is never reached. In an outage nothing succeeds, and the same cap holds retries to ~10 % of calls.');

  await resilient.close();
  await server.close();
};

await main();
