/**
 * post-safety: POST with a 64 KiB body (and an Idempotency-Key) against 50 % 503. Counts server
 * deliveries per call and bodies whose SHA-256 differs from the one the client announced.
 */
import { createHash } from 'node:crypto';
import { PEERS, resilientAdapter } from '../lib/adapters.js';
import { closedLoop } from '../lib/load.js';
import { envInt, machineCaption, resultHeader, runRounds } from '../lib/report.js';
import { barChart } from '../lib/svg.js';
import { seeded } from '../server.js';
import { successRate, tagged, type Scenario } from '../lib/scenario.js';

export const postSafety: Scenario = {
  name: 'post-safety',
  run: async (server, log) => {
    const calls = envInt('BENCH_POST_CALLS', 200);
    const concurrency = envInt('BENCH_POST_CONCURRENCY', 8);
    const rounds = envInt('BENCH_POST_ROUNDS', envInt('BENCH_ROUNDS', 2));
    const size = envInt('BENCH_POST_BYTES', 64 * 1024);
    const random = seeded(7);
    const body = new Uint8Array(size).map(() => Math.floor(random() * 256));
    const sha = createHash('sha256').update(body).digest('hex');
    const faults = { lat: 1, fp: 0.5, fs: 503 };
    const url = server.url(faults);
    const factories = [...PEERS, () => resilientAdapter('resilient-fetch')];
    const rows = await runRounds({
      server,
      scenario: 'post-safety',
      factories,
      rounds,
      ratioOf: 'deliveriesPerCall',
      log,
      warmup: envInt('BENCH_WARMUP', 100),
      runOnce: async (adapter, run) => {
        const { outcomes } = await closedLoop(adapter, calls, concurrency, (i) =>
          tagged(url, run, i, {
            method: 'POST',
            body,
            headers: {
              'content-type': 'application/octet-stream',
              'x-body-sha256': sha,
              'idempotency-key': `${run}-${i}`,
            },
          }),
        );
        const stats = await server.stats(run);
        return {
          metrics: {
            deliveriesPerCall: stats.deliveries / calls,
            maxPerCall: stats.maxPerCall,
            mismatches: stats.mismatches,
            aborts: stats.aborts,
            success: successRate(outcomes),
          },
        };
      },
    });
    const result = {
      ...resultHeader('post-safety'),
      description: `POST, ${size / 1024} KiB body with Idempotency-Key, ${faults.fp * 100} % 503`,
      parameters: { calls, concurrency, rounds, bytes: size, ...faults },
      ratioOf: 'deliveriesPerCall',
      columns: [
        { key: 'deliveriesPerCall', label: 'deliveries/call', digits: 2 },
        { key: 'maxPerCall', label: 'max deliveries for one call', digits: 0 },
        { key: 'mismatches', label: 'body mismatches', digits: 0 },
        { key: 'aborts', label: 'server-seen aborts', digits: 0 },
        { key: 'success', label: 'success %', digits: 1 },
      ],
      rows,
      notes: [
        'Every request carries an Idempotency-Key; whether POST is retried is each library’s own rule (see settings).',
        'A body mismatch is a delivery whose SHA-256 differs from the x-body-sha256 header the client sent.',
      ],
    };
    const svg = barChart(
      'post-safety: server deliveries per POST (50 % 503)',
      `${calls} POSTs of ${size / 1024} KiB, median of ${rounds} rounds; ${machineCaption(result.machine)}`,
      'deliveries/call',
      rows.map((row) => ({ label: row.name, value: row.medians['deliveriesPerCall'] ?? Number.NaN })),
    );
    return { result, svgs: { 'post-safety.svg': svg } };
  },
};
