/** tail: 2 ms base latency, 3 % of responses +250 ms; p50/p99/p99.9 and deliveries per call. */
import { PEERS, resilientAdapter } from '../lib/adapters.js';
import { closedLoop } from '../lib/load.js';
import { envInt, machineCaption, resultHeader, runRounds } from '../lib/report.js';
import { cdfChart } from '../lib/svg.js';
import { cdfPoints, percentile } from '../lib/stats.js';
import { successRate, tagged, type Scenario } from '../lib/scenario.js';

export const tail: Scenario = {
  name: 'tail',
  run: async (server, log) => {
    const calls = envInt('BENCH_TAIL_CALLS', 2_000);
    const concurrency = envInt('BENCH_TAIL_CONCURRENCY', 8);
    const rounds = envInt('BENCH_TAIL_ROUNDS', envInt('BENCH_ROUNDS', 2));
    const faults = { lat: 2, tp: 0.03, td: 250 };
    const url = server.url(faults);
    const factories = [
      ...PEERS,
      () => resilientAdapter('resilient-fetch (no hedge)'),
      () => resilientAdapter('resilient-fetch hedge 20 ms', { hedge: { delay: 20 } }, 'hedge { delay: 20 }'),
      () => resilientAdapter('resilient-fetch hedge auto', { hedge: { delay: 'auto' } }, "hedge { delay: 'auto' }"),
    ];
    const rows = await runRounds({
      server,
      scenario: 'tail',
      factories,
      rounds,
      ratioOf: 'p99',
      log,
      warmup: envInt('BENCH_WARMUP', 100),
      runOnce: async (adapter, run) => {
        const { outcomes } = await closedLoop(adapter, calls, concurrency, (i) => tagged(url, run, i));
        const stats = await server.stats(run);
        const ms = outcomes.map((o) => o.ms);
        return {
          metrics: {
            p50: percentile(ms, 50),
            p99: percentile(ms, 99),
            p999: percentile(ms, 99.9),
            deliveriesPerCall: stats.deliveries / calls,
            aborts: stats.aborts,
            success: successRate(outcomes),
          },
          samples: ms,
        };
      },
    });
    const result = {
      ...resultHeader('tail'),
      description: `${faults.lat} ms base latency, ${faults.tp * 100} % of responses +${faults.td} ms, closed loop`,
      parameters: { calls, concurrency, rounds, ...faults },
      ratioOf: 'p99',
      columns: [
        { key: 'p50', label: 'p50 ms', digits: 1 },
        { key: 'p99', label: 'p99 ms', digits: 1 },
        { key: 'p999', label: 'p99.9 ms', digits: 1 },
        { key: 'deliveriesPerCall', label: 'deliveries/call', digits: 3 },
        { key: 'aborts', label: 'server-seen aborts', digits: 0 },
        { key: 'success', label: 'success %', digits: 1 },
      ],
      rows,
      notes: ['Lower is better for latencies; the ratio column is p99 relative to bare undici fetch.'],
    };
    const svg = cdfChart(
      `tail: latency CDF (${faults.tp * 100} % of responses +${faults.td} ms)`,
      `${calls} GETs × ${rounds} rounds pooled, concurrency ${concurrency}; ${machineCaption(result.machine)}`,
      rows.map((row) => ({ name: row.name, points: cdfPoints(row.samples) })),
    );
    return { result, svgs: { 'tail-cdf.svg': svg } };
  },
};
