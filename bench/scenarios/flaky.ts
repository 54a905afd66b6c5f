/** flaky: 30 % of responses 503 and 5 % connection resets; success rate, latency, deliveries per call. */
import { PEERS, resilientAdapter, resilientDefaults } from '../lib/adapters.js';
import { closedLoop } from '../lib/load.js';
import { envInt, machineCaption, resultHeader, runRounds } from '../lib/report.js';
import { barChart } from '../lib/svg.js';
import { percentile } from '../lib/stats.js';
import { successRate, tagged, type Scenario } from '../lib/scenario.js';

export const flaky: Scenario = {
  name: 'flaky',
  run: async (server, log) => {
    const calls = envInt('BENCH_FLAKY_CALLS', 500);
    const concurrency = envInt('BENCH_FLAKY_CONCURRENCY', 16);
    const rounds = envInt('BENCH_FLAKY_ROUNDS', envInt('BENCH_ROUNDS', 2));
    const faults = { lat: 1, fp: 0.3, fs: 503, rp: 0.05 };
    const url = server.url(faults);
    const factories = [
      ...PEERS,
      resilientDefaults,
      () => resilientAdapter('resilient-fetch (bench settings, budget on)', {}, 'retry budget and breaker at their defaults'),
      () => resilientAdapter('resilient-fetch (bench settings, budget off)', { retry: { budget: false } }, 'retry.budget false'),
    ];
    const rows = await runRounds({
      server,
      scenario: 'flaky',
      factories,
      rounds,
      ratioOf: 'success',
      log,
      warmup: envInt('BENCH_WARMUP', 100),
      runOnce: async (adapter, run) => {
        const { outcomes } = await closedLoop(adapter, calls, concurrency, (i) => tagged(url, run, i));
        const stats = await server.stats(run);
        const ms = outcomes.map((o) => o.ms);
        return {
          metrics: {
            success: successRate(outcomes),
            rejected: (100 * outcomes.filter((o) => o.error !== undefined).length) / calls,
            p50: percentile(ms, 50),
            p99: percentile(ms, 99),
            deliveriesPerCall: stats.deliveries / calls,
          },
        };
      },
    });
    const result = {
      ...resultHeader('flaky'),
      description: `${faults.fp * 100} % 503 and ${faults.rp * 100} % connection resets, ${faults.lat} ms latency, closed loop`,
      parameters: { calls, concurrency, rounds, ...faults },
      ratioOf: 'success',
      columns: [
        { key: 'success', label: 'success %', digits: 1 },
        { key: 'rejected', label: 'rejected %', digits: 1 },
        { key: 'p50', label: 'p50 ms', digits: 1 },
        { key: 'p99', label: 'p99 ms', digits: 1 },
        { key: 'deliveriesPerCall', label: 'deliveries/call', digits: 2 },
      ],
      rows,
      notes: [
        'success % counts calls that ended in a 2xx; rejected % counts calls that threw (a reset on the last attempt, an open breaker).',
        'The ratio column is success % relative to bare undici fetch.',
        '"resilient-fetch (defaults)" is createFetch() with only retry.limit set (3, as the peers); the "bench settings" rows also take the peers\' back-off (10 → 100 ms) and 2 s attempt timeout.',
      ],
    };
    const svg = barChart(
      'flaky: success rate (30 % 503, 5 % resets)',
      `${calls} GETs, concurrency ${concurrency}, median of ${rounds} rounds; ${machineCaption(result.machine)}`,
      '%',
      rows.map((row) => ({ label: row.name, value: row.medians['success'] ?? Number.NaN })),
    );
    return { result, svgs: { 'flaky.svg': svg } };
  },
};
