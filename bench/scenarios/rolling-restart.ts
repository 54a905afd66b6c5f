/**
 * rolling-restart: three instances of one service (real `node:http` servers on 127.0.0.1, each on
 * the port it got at start), restarted one after another: each is down (connections refused, open
 * connections destroyed) for `down` ms, then up again on the same port, `gap` ms before the next
 * goes down. Load is steady: a closed loop at fixed concurrency for the whole schedule. Reported:
 * failed calls, and deliveries (requests that reached an instance, counted there) per call.
 */
import { isSuccess, closedLoopFor } from '../lib/load.js';
import {
  bareRoundRobin,
  cockatielRoundRobin,
  gotRoundRobin,
  LOGICAL_HOST,
  pRetryRoundRobin,
  resilientUpstreams,
} from '../lib/failover-adapters.js';
import { startInstances } from '../lib/instances.js';
import { envInt, machineCaption, resultHeader, rowsFromRuns, type RowRuns } from '../lib/report.js';
import { barChart } from '../lib/svg.js';
import { percentile } from '../lib/stats.js';
import { tagged, type Scenario } from '../lib/scenario.js';

const INSTANCES = 3;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const rollingRestart: Scenario = {
  name: 'rolling-restart',
  run: async (_server, log) => {
    const concurrency = envInt('BENCH_RR_CONCURRENCY', 8);
    const latency = envInt('BENCH_RR_LATENCY_MS', 10);
    const down = envInt('BENCH_RR_DOWN_MS', 1_000);
    const gap = envInt('BENCH_RR_GAP_MS', 500);
    const rounds = envInt('BENCH_RR_ROUNDS', 1);
    const duration = gap + INSTANCES * (down + gap);
    const instances = await startInstances(INSTANCES, latency);
    const { origins } = instances;
    const factories = [
      bareRoundRobin(origins),
      pRetryRoundRobin(origins),
      cockatielRoundRobin(origins),
      gotRoundRobin(origins),
      resilientUpstreams(origins, 'resilient-fetch (defaults)'),
      resilientUpstreams(origins, 'resilient-fetch budget: false', { retry: { budget: false } }, 'retry: { budget: false }'),
    ];
    const perRow: RowRuns[] = [];
    const url = `http://${LOGICAL_HOST}/work`;
    try {
      for (let round = 0; round < rounds; round++) {
        for (const [i, factory] of factories.entries()) {
          const adapter = factory();
          const run = `rolling-restart-r${round}-a${i}`;
          let outcomes;
          try {
            // The restarts, one instance after another, while the load runs.
            const restarts = (async () => {
              for (let k = 0; k < INSTANCES; k++) {
                await sleep(gap);
                await instances.down(k);
                await sleep(down);
                await instances.up(k);
              }
            })();
            outcomes = await closedLoopFor(adapter, duration, concurrency, (index) => tagged(url, run, index));
            await restarts;
          } finally {
            await adapter.close();
            for (let k = 0; k < INSTANCES; k++) await instances.up(k);
          }
          const stats = instances.stats(run);
          const calls = outcomes.length;
          const failed = outcomes.filter((o) => !isSuccess(o));
          const reasons = new Map<string, number>();
          for (const o of failed) {
            const key = o.error ?? String(o.status);
            reasons.set(key, (reasons.get(key) ?? 0) + 1);
          }
          const metrics = {
            calls,
            failed: failed.length,
            failedPct: (100 * failed.length) / calls,
            deliveriesPerCall: stats.deliveries / calls,
            maxPerCall: stats.maxPerCall,
            cutOff: stats.cutOff,
            p50: percentile(
              outcomes.map((o) => o.ms),
              50,
            ),
            p99: percentile(
              outcomes.map((o) => o.ms),
              99,
            ),
            max: Math.max(...outcomes.map((o) => o.ms)),
          };
          const why = [...reasons].map(([k, v]) => `${k} ${v}`).join(', ');
          log(
            `  round ${round + 1}/${rounds} ${adapter.name}: ${calls} calls, ${failed.length} failed${why ? ` (${why})` : ''}, ` +
              `${metrics.deliveriesPerCall.toFixed(3)} deliveries/call, per instance ${stats.perInstance.join(' / ')}`,
          );
          let row = perRow[i];
          if (!row) {
            row = { name: adapter.name, settings: adapter.settings, rounds: [], samples: [] };
            perRow[i] = row;
          }
          row.rounds.push(metrics);
          await sleep(200);
        }
      }
    } finally {
      await instances.close();
    }
    const rows = rowsFromRuns(perRow, 'failed');
    const result = {
      ...resultHeader('rolling-restart'),
      description: `${INSTANCES} instances, each down ${down} ms in turn (${gap} ms apart), ${latency} ms latency, closed loop at concurrency ${concurrency} for ${duration} ms`,
      parameters: { instances: INSTANCES, down, gap, latency, concurrency, duration, rounds },
      ratioOf: 'failed',
      columns: [
        { key: 'calls', label: 'calls', digits: 0 },
        { key: 'failed', label: 'failed calls', digits: 0 },
        { key: 'failedPct', label: 'failed %', digits: 2 },
        { key: 'deliveriesPerCall', label: 'deliveries/call', digits: 3 },
        { key: 'maxPerCall', label: 'max deliveries one call', digits: 0 },
        { key: 'cutOff', label: 'requests cut off by a kill', digits: 0 },
        { key: 'p50', label: 'p50 ms', digits: 1 },
        { key: 'p99', label: 'p99 ms', digits: 1 },
        { key: 'max', label: 'max ms', digits: 0 },
      ],
      rows,
      notes: [
        'A call failed when it threw or ended without a 2xx. Deliveries are requests that reached an instance, counted by the instance (a refused connection is not one).',
        '"requests cut off by a kill" = requests an instance had read but not answered when it went down (its connections destroyed).',
        'The ratio column is failed calls relative to bare undici fetch (round robin, no retry). Calls differ per row: the loop is closed, a client waiting on back-offs makes fewer calls.',
        'ky, fetch-retry and undici RetryAgent, like got, retry the URL they were given: over several instances they can only be given one per call.',
      ],
    };
    const svg = barChart(
      'rolling-restart: failed calls',
      `${INSTANCES} instances down ${down} ms each in turn, concurrency ${concurrency}, ${duration} ms; ${machineCaption(result.machine)}`,
      'failed calls',
      rows.map((row) => ({
        label: row.name,
        value: row.medians['failed'] ?? Number.NaN,
        note: `of ${(row.medians['calls'] ?? Number.NaN).toFixed(0)}, ${(row.medians['deliveriesPerCall'] ?? Number.NaN).toFixed(3)} deliveries/call`,
      })),
    );
    return { result, svgs: { 'rolling-restart.svg': svg } };
  },
};
