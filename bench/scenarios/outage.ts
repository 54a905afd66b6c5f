/**
 * outage: the server answers everything with 503 for a while ("down"), then recovers. Calls arrive
 * at a fixed rate whatever happens (open loop), as they would from users. Load amplification is
 * server deliveries per call while down.
 */
import { PEERS, resilientAdapter, resilientDefaults } from '../lib/adapters.js';
import { isSuccess, openLoop } from '../lib/load.js';
import { envInt, machineCaption, resultHeader, runRounds } from '../lib/report.js';
import { barChart } from '../lib/svg.js';
import { median } from '../lib/stats.js';
import { successRate, tagged, type Scenario } from '../lib/scenario.js';

/** Error names and codes of an open breaker, per library. */
export const OPEN_BREAKER = new Set(['ERR_CIRCUIT_OPEN', 'CircuitOpenError', 'EOPENBREAKER', 'BrokenCircuitError']);

const breaker = { volumeThreshold: 20, resetTimeout: 1_000 };

export const outage: Scenario = {
  name: 'outage',
  run: async (server, log) => {
    const upBefore = envInt('BENCH_OUTAGE_UP_BEFORE_MS', 250);
    const down = envInt('BENCH_OUTAGE_DOWN_MS', 1_000);
    const upAfter = envInt('BENCH_OUTAGE_UP_AFTER_MS', 1_000);
    const interval = envInt('BENCH_OUTAGE_INTERVAL_MS', 20);
    const rounds = envInt('BENCH_OUTAGE_ROUNDS', envInt('BENCH_ROUNDS', 2));
    const url = server.url({ lat: 1 });
    const factories = [
      ...PEERS,
      resilientDefaults,
      () => resilientAdapter('rf naive retry', { retry: { budget: false }, breaker: false }, 'retry.budget false, breaker false'),
      () => resilientAdapter('rf budget', { breaker: false }, 'retry budget at its default (10 %, 5/s), breaker false'),
      () =>
        resilientAdapter(
          'rf budget + breaker',
          { breaker },
          'retry budget default, breaker { volumeThreshold: 20, resetTimeout: 1000 }',
        ),
      () =>
        resilientAdapter(
          'rf budget + breaker + throttle',
          { breaker, throttle: true },
          'retry budget default, breaker as above, throttle {} (K 2, 60 s window)',
        ),
    ];
    const rows = await runRounds({
      server,
      scenario: 'outage',
      factories,
      rounds,
      ratioOf: 'amplification',
      log,
      warmup: envInt('BENCH_WARMUP', 100),
      runOnce: async (adapter, run) => {
        let phase: 'before' | 'down' | 'after' = 'before';
        let outcomes;
        try {
          outcomes = await openLoop(
            adapter,
            upBefore + down + upAfter,
            interval,
            (i) => tagged(url, run, i),
            async (elapsed) => {
              if (phase === 'before' && elapsed >= upBefore) {
                phase = 'down';
                await server.setDown(503);
              } else if (phase === 'down' && elapsed >= upBefore + down) {
                phase = 'after';
                await server.setDown(false);
              }
            },
          );
        } finally {
          await server.setDown(false);
        }
        const stats = await server.stats(run);
        const duringDown = outcomes.filter((o) => o.startedAt >= upBefore && o.startedAt < upBefore + down);
        const lastStretch = outcomes.filter((o) => o.startedAt >= upBefore + down + upAfter / 2);
        const failed = outcomes.filter((o) => !isSuccess(o));
        return {
          metrics: {
            calls: outcomes.length,
            amplification: duringDown.length === 0 ? Number.NaN : stats.downDeliveries / duringDown.length,
            deliveriesPerCall: stats.deliveries / outcomes.length,
            success: successRate(outcomes),
            recovered: successRate(lastStretch),
            failMs: median(failed.map((o) => o.ms)),
            openMs: median(failed.filter((o) => o.error !== undefined && OPEN_BREAKER.has(o.error)).map((o) => o.ms)),
            status503Ms: median(failed.filter((o) => o.status === 503).map((o) => o.ms)),
          },
        };
      },
    });
    const result = {
      ...resultHeader('outage'),
      description: `up ${upBefore} ms, every response 503 for ${down} ms, up again ${upAfter} ms; one call every ${interval} ms (open loop)`,
      parameters: { upBefore, down, upAfter, interval, rounds },
      ratioOf: 'amplification',
      columns: [
        { key: 'calls', label: 'calls', digits: 0 },
        { key: 'amplification', label: 'deliveries/call while down', digits: 2 },
        { key: 'deliveriesPerCall', label: 'deliveries/call overall', digits: 2 },
        { key: 'success', label: 'success %', digits: 1 },
        { key: 'recovered', label: `success % in last ${upAfter / 2} ms`, digits: 1 },
        { key: 'failMs', label: 'time to fail p50 ms', digits: 1 },
        { key: 'openMs', label: 'fail p50 ms (breaker open)', digits: 1 },
        { key: 'status503Ms', label: 'fail p50 ms (503 returned)', digits: 1 },
      ],
      rows,
      notes: [
        'Load amplification = server deliveries during the down phase ÷ calls started during it (1.00 = no retries reached the server).',
        '"resilient-fetch (defaults)" is createFetch() with only retry.limit set (3, as the peers): default back-off (100 ms → 5 s), budget and breaker (volumeThreshold 20, open 1 s the first time, doubled per failed probe up to 30 s). The "rf" rows take the peers\' back-off (10 → 100 ms) and 2 s attempt timeout, and set what their names say.',
        '"breaker open" = calls rejected by an open breaker (CircuitOpenError, opossum EOPENBREAKER, cockatiel BrokenCircuitError); "503 returned" = calls that ended with the 503 after their retries. – = no such call.',
      ],
    };
    const svg = barChart(
      'outage: load amplification (server deliveries per call while down)',
      `every response 503 for ${down} ms, a call every ${interval} ms, median of ${rounds} rounds; ${machineCaption(result.machine)}`,
      'deliveries/call',
      rows.map((row) => ({ label: row.name, value: row.medians['amplification'] ?? Number.NaN })),
    );
    return { result, svgs: { 'outage-amplification.svg': svg } };
  },
};
