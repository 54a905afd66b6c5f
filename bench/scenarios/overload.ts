/**
 * overload: a capacity-limited server (`bench/lib/capacity-server.ts`: N in service, a fixed service
 * time, the excess rejected with 503 at once, each rejection occupying the server for a fraction of
 * a service time) offered open-loop load that steps 0.5× → 1.5× → 0.8× of its capacity. Reported
 * per client: goodput per phase, deliveries per call, latency per phase, and the time to recover
 * after the load drops. Retries that keep coming after the drop can hold the server overloaded at
 * a load it serves easily without them: a metastable failure.
 *
 * Rows are `OVERLOAD_CLIENTS`; a resilient-fetch configuration is one more line there.
 */
import pRetry from 'p-retry';
import { Agent, fetch as undiciFetch } from 'undici';
import { bareUndici, resilientOptionsAdapter, STATUSES, type Adapter, type AdapterFactory } from '../lib/adapters.js';
import { startCapacityServer, type CapacityWindow } from '../lib/capacity-server.js';
import { isSuccess, phasedOpenLoop, type LoadPhase } from '../lib/load.js';
import { envInt, machineCaption, resultHeader, rowsFromRuns, type RowRuns } from '../lib/report.js';
import { timelineChart, type TimelineSeries } from '../lib/svg.js';
import { percentile } from '../lib/stats.js';
import { tagged, type Scenario } from '../lib/scenario.js';

const NAIVE_RETRIES = envInt('BENCH_OVERLOAD_NAIVE_RETRIES', 5);

/** p-retry around undici fetch: every 503 retried, no budget, no breaker, a small back-off. */
export const naiveRetries = (): Adapter => {
  const dispatcher = new Agent();
  const statuses = new Set(STATUSES);
  class RetryableStatus extends Error {
    constructor(readonly status: number) {
      super(`status ${status}`);
    }
  }
  return {
    name: `naive retries (p-retry, ${NAIVE_RETRIES} retries)`,
    settings: `p-retry 7 (retries ${NAIVE_RETRIES}, minTimeout 10, factor 2, maxTimeout 100, no jitter) around undici fetch; every error and statuses ${STATUSES.join('/')} retried; no budget, no breaker`,
    call: async (request) => {
      try {
        return await pRetry(
          async () => {
            const res = await undiciFetch(request.url, { headers: request.headers, dispatcher });
            await res.arrayBuffer();
            if (statuses.has(res.status)) throw new RetryableStatus(res.status);
            return res.status;
          },
          { retries: NAIVE_RETRIES, minTimeout: 10, maxTimeout: 100, factor: 2, randomize: false },
        );
      } catch (error) {
        if (error instanceof RetryableStatus) return error.status;
        throw error;
      }
    },
    close: () => dispatcher.close(),
  };
};

/**
 * The rows, in table order; the first (no retries) is the reference for ratios. A resilient-fetch
 * configuration is one line: `() => resilientOptionsAdapter(name, createFetchOptions, settingsText)`.
 */
export const OVERLOAD_CLIENTS: readonly AdapterFactory[] = [
  bareUndici,
  naiveRetries,
  () => resilientOptionsAdapter('resilient-fetch (defaults)'),
  () =>
    resilientOptionsAdapter(
      'resilient-fetch budget: false',
      { defaults: { retry: { budget: false } } },
      'retry: { budget: false }',
    ),
  () =>
    resilientOptionsAdapter(
      'resilient-fetch bulkhead 10 (fixed, queue 1024 / 1 s)',
      { defaults: { bulkhead: { maxConcurrent: 10 } } },
      'bulkhead: { maxConcurrent: 10 } (the true capacity; queue at its defaults, 1024 waiting for up to 1 s)',
    ),
  () =>
    resilientOptionsAdapter(
      "resilient-fetch bulkhead 'auto'",
      { defaults: { bulkhead: { maxConcurrent: 'auto', maxQueued: 0 } } },
      "bulkhead: { maxConcurrent: 'auto', maxQueued: 0 } (learned limit, over it rejected at once)",
    ),
  () =>
    resilientOptionsAdapter(
      "resilient-fetch bulkhead 'auto', queue 2",
      { defaults: { bulkhead: { maxConcurrent: 'auto', maxQueued: 2 } } },
      "bulkhead: { maxConcurrent: 'auto', maxQueued: 2 } (learned limit; 2 may wait, so a slot freed between arrivals is not left idle)",
    ),
];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One overload set-up: the server's backlog and the rows run against it. */
type Variant = {
  readonly name: string;
  /** Requests the server queues before rejecting (0: it rejects everything over its capacity). */
  readonly backlog: number;
  readonly clients: readonly AdapterFactory[];
};

/** The same server with a backlog of 100 (latency grows with load before it rejects) and the rows issue 17 compares there. */
export const OVERLOAD_QUEUE_CLIENTS: readonly AdapterFactory[] = [
  bareUndici,
  () => resilientOptionsAdapter('resilient-fetch (defaults)'),
  () =>
    resilientOptionsAdapter(
      'resilient-fetch bulkhead 64 (fixed)',
      { defaults: { bulkhead: { maxConcurrent: 64 } } },
      'bulkhead: { maxConcurrent: 64 } (a fixed limit above the capacity; queue at its defaults)',
    ),
  () =>
    resilientOptionsAdapter(
      "resilient-fetch bulkhead 'auto'",
      { defaults: { bulkhead: { maxConcurrent: 'auto', maxQueued: 0 } } },
      "bulkhead: { maxConcurrent: 'auto', maxQueued: 0 } (learned limit, over it rejected at once)",
    ),
];

const overloadScenario = ({ name, backlog, clients }: Variant): Scenario => ({
  name,
  run: async (_server, log) => {
    const capacity = envInt('BENCH_OVERLOAD_CAPACITY', 10);
    const serviceMs = envInt('BENCH_OVERLOAD_SERVICE_MS', 100);
    const rejectCostMs = envInt('BENCH_OVERLOAD_REJECT_COST_MS', 30);
    const windowMs = envInt('BENCH_OVERLOAD_WINDOW_MS', 250);
    const rounds = envInt('BENCH_OVERLOAD_ROUNDS', 1);
    const perSecond = (capacity * 1000) / serviceMs;
    const steps = [
      { factor: 0.5, durationMs: envInt('BENCH_OVERLOAD_BEFORE_MS', 2_000) },
      { factor: 1.5, durationMs: envInt('BENCH_OVERLOAD_PEAK_MS', 3_000) },
      { factor: 0.8, durationMs: envInt('BENCH_OVERLOAD_AFTER_MS', 4_000) },
    ];
    const phases: LoadPhase[] = steps.map((s) => ({ durationMs: s.durationMs, ratePerSecond: s.factor * perSecond }));
    const bounds = phases.map((_, i) => phases.slice(0, i).reduce((sum, p) => sum + p.durationMs, 0));
    const end = bounds[2]! + phases[2]!.durationMs;
    const drop = bounds[2]!;
    const server = await startCapacityServer({ capacity, serviceMs, rejectCostMs, windowMs, backlog });
    const perRow: RowRuns[] = [];
    const timelines: Record<string, Array<CapacityWindow & { goodput: number; offered: number }>> = {};
    try {
      for (let round = 0; round < rounds; round++) {
        for (const [i, factory] of clients.entries()) {
          const adapter = factory();
          const run = `${name}-r${round}-a${i}`;
          while (server.inService() > 0) await sleep(20);
          server.mark();
          let outcomes;
          try {
            outcomes = await phasedOpenLoop(adapter, phases, (index) => tagged(server.origin, run, index));
          } finally {
            await adapter.close();
          }
          const windows = server.timeline();
          const stats = server.stats(run);
          // Per window: successes completed (goodput, per second) and calls started (offered, per second).
          const perWindow = windows
            .filter((w) => w.at < end)
            .map((w) => {
              const inWindow = (t: number) => t >= w.at && t < w.at + windowMs;
              const goodput = outcomes.filter((o) => isSuccess(o) && inWindow(o.startedAt + o.ms)).length / (windowMs / 1000);
              const offered = outcomes.filter((o) => inWindow(o.startedAt)).length / (windowMs / 1000);
              return { ...w, goodput, offered };
            });
          // Recovered: the first window from the drop on with goodput >= 90 % of the offered load and
          // rejections ~0 (at most 5 % of the window's offered calls).
          const offeredAfter = phases[2]!.ratePerSecond;
          const recovered = perWindow.find(
            (w) =>
              w.at >= drop &&
              w.goodput >= 0.9 * offeredAfter &&
              w.rejected <= 0.05 * offeredAfter * (windowMs / 1000) &&
              w.at + windowMs <= end,
          );
          const metrics: Record<string, number> = {
            calls: outcomes.length,
            failedPct: (100 * outcomes.filter((o) => !isSuccess(o)).length) / outcomes.length,
            deliveriesPerCall: stats.deliveries / outcomes.length,
            recoverMs: recovered ? recovered.at - drop : Number.POSITIVE_INFINITY,
          };
          for (const [p, phase] of phases.entries()) {
            const from = bounds[p]!;
            const to = from + phase.durationMs;
            const started = outcomes.filter((o) => o.phase === p);
            const done = outcomes.filter((o) => isSuccess(o) && o.startedAt + o.ms >= from && o.startedAt + o.ms < to);
            const inPhase = perWindow.filter((w) => w.at >= from && w.at < to);
            metrics[`goodput${p}`] = done.length / (phase.durationMs / 1000);
            metrics[`deliveries${p}`] = inPhase.reduce((sum, w) => sum + w.accepted + w.rejected, 0) / started.length;
            metrics[`p50_${p}`] = percentile(
              started.map((o) => o.ms),
              50,
            );
            metrics[`p99_${p}`] = percentile(
              started.map((o) => o.ms),
              99,
            );
          }
          const lastSecond = perWindow.filter((w) => w.at >= end - 1_000);
          metrics['inServiceEnd'] = lastSecond.reduce((sum, w) => sum + w.meanInService, 0) / Math.max(1, lastSecond.length);
          const reasons = new Map<string, number>();
          for (const o of outcomes.filter((x) => !isSuccess(x))) {
            const key = o.error ?? String(o.status);
            reasons.set(key, (reasons.get(key) ?? 0) + 1);
          }
          const why = [...reasons].map(([k, v]) => `${k} ${v}`).join(', ');
          log(
            `  round ${round + 1}/${rounds} ${adapter.name}: failed ${why || 'none'}; goodput ${[0, 1, 2].map((p) => metrics[`goodput${p}`]?.toFixed(0)).join(' → ')}/s, ` +
              `${metrics['deliveriesPerCall']?.toFixed(2)} deliveries/call, recovered ${recovered ? `${recovered.at - drop} ms after the drop` : 'never'}`,
          );
          let row = perRow[i];
          if (!row) {
            row = { name: adapter.name, settings: adapter.settings, rounds: [], samples: [] };
            perRow[i] = row;
          }
          row.rounds.push(metrics);
          if (round === 0) timelines[adapter.name] = perWindow;
        }
      }
    } finally {
      await server.close();
    }
    const rows = rowsFromRuns(perRow, 'goodput2');
    const label = (p: number) => `${steps[p]!.factor}× (${phases[p]!.ratePerSecond}/s)`;
    const result = {
      ...resultHeader(name),
      description: `capacity ${capacity} in service × ${serviceMs} ms (${perSecond}/s)${backlog > 0 ? `, a backlog of ${backlog} waiting (first in, first out)` : ''}, 503 beyond it costing ${rejectCostMs} ms of service each; open loop ${steps.map((s, p) => `${label(p)} for ${s.durationMs / 1000} s`).join(' → ')}`,
      parameters: { capacity, serviceMs, rejectCostMs, windowMs, backlog, rounds, naiveRetries: NAIVE_RETRIES, perSecond },
      ratioOf: 'goodput2',
      columns: [
        { key: 'calls', label: 'calls', digits: 0 },
        { key: 'failedPct', label: 'failed %', digits: 1 },
        ...[0, 1, 2].map((p) => ({ key: `goodput${p}`, label: `goodput/s at ${label(p)}`, digits: 0 })),
        { key: 'deliveriesPerCall', label: 'deliveries/call', digits: 2 },
        ...[1, 2].map((p) => ({ key: `deliveries${p}`, label: `deliveries/call at ${steps[p]!.factor}×`, digits: 2 })),
        ...[0, 1, 2].map((p) => ({ key: `p50_${p}`, label: `p50 ms at ${steps[p]!.factor}×`, digits: 0 })),
        ...[0, 1, 2].map((p) => ({ key: `p99_${p}`, label: `p99 ms at ${steps[p]!.factor}×`, digits: 0 })),
        { key: 'recoverMs', label: 'recovered after drop, ms', digits: 0 },
        { key: 'inServiceEnd', label: 'in service, last 1 s (mean)', digits: 1 },
      ],
      rows,
      notes: [
        `Goodput = successful calls completed in the phase, per second; the server serves at most ${perSecond}/s. Deliveries = requests that reached the server (accepted or rejected), per call started in the phase (overall: all deliveries ÷ all calls). Latencies are of the calls started in the phase, failed ones included.`,
        `Recovered after drop = start of the first ${windowMs} ms window after the load fell to ${steps[2]!.factor}× in which goodput ≥ 90 % of the offered ${phases[2]!.ratePerSecond}/s and the server rejected at most 5 % of the window's offered calls; – = not within the ${steps[2]!.durationMs / 1000} s of that phase.`,
        `Metastable when retries alone keep the server full: with every attempt rejected, rejections occupy it ${steps[2]!.factor} × ${1 + NAIVE_RETRIES} attempts × ${rejectCostMs / serviceMs} = ${(steps[2]!.factor * (1 + NAIVE_RETRIES) * (rejectCostMs / serviceMs)).toFixed(2)} × its capacity after the drop (≥ 1: no room is left for real work), for the naive row; ${rejectCostMs / serviceMs} of a service time per rejection is this scenario's BENCH_OVERLOAD_REJECT_COST_MS.`,
        'The ratio column is goodput at 0.8× relative to the first row (undici fetch, no retries).',
        'The server runs in the bench process: its capacity is timers, not CPU; its in-service count per window is in the JSON (extra.timelines).',
      ],
      extra: { timelines },
    };
    const phaseMarks = steps.map((s, p) => ({ from: bounds[p]!, to: bounds[p]! + s.durationMs, label: label(p) }));
    const caption = `capacity ${perSecond}/s, ${windowMs} ms windows; ${machineCaption(result.machine)}`;
    const series = (key: 'goodput' | 'meanInService'): TimelineSeries[] =>
      Object.entries(timelines).map(([name, windows]) => ({
        name,
        points: windows.flatMap((w) => [[w.at, w[key]] as const, [w.at + windowMs, w[key]] as const]),
      }));
    const offered: TimelineSeries = {
      name: 'offered load',
      dashed: true,
      points: phaseMarks.flatMap((m, p) => [
        [m.from, phases[p]!.ratePerSecond] as const,
        [m.to, phases[p]!.ratePerSecond] as const,
      ]),
    };
    const limit: TimelineSeries = {
      name: `capacity (${capacity})`,
      dashed: true,
      points: [
        [0, capacity],
        [end, capacity],
      ],
    };
    return {
      result,
      svgs: {
        [`${name}.svg`]: timelineChart(
          `${name}: goodput over time`,
          caption,
          'successful calls / s',
          [...series('goodput'), offered],
          phaseMarks,
        ),
        [`${name}-in-service.svg`]: timelineChart(
          `${name}: requests in service at the server`,
          caption,
          'in service (mean per window)',
          [...series('meanInService'), limit],
          phaseMarks,
        ),
      },
    };
  },
});

export const overload = overloadScenario({ name: 'overload', backlog: 0, clients: OVERLOAD_CLIENTS });
export const overloadQueue = overloadScenario({
  name: 'overload-queue',
  backlog: envInt('BENCH_OVERLOAD_BACKLOG', 100),
  clients: OVERLOAD_QUEUE_CLIENTS,
});
