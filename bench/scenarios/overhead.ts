/**
 * overhead: no faults, keep-alive on 127.0.0.1, concurrency 32; requests/s and client CPU per call
 * against the bare transport, each client built once and reused, in paired runs (runPairedRounds).
 */
import { createSecureServer } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { Agent, getGlobalDispatcher, setGlobalDispatcher, type Dispatcher } from 'undici';
import { TLS_CERT, TLS_KEY } from '../../test/support/tls.js';
import { PEERS, resilientAdapter, type Adapter, type AdapterFactory } from '../lib/adapters.js';
import { closedLoop } from '../lib/load.js';
import { envInt, machineCaption, resultHeader, runPairedRounds } from '../lib/report.js';
import { barChart } from '../lib/svg.js';
import { percentile } from '../lib/stats.js';
import { createFetch, runWithDeadline } from '../../src/index.js';
import { successRate, tagged, type Scenario } from '../lib/scenario.js';

/**
 * resilient-fetch on the process-wide dispatcher (`setGlobalDispatcher(new Agent())` before
 * `createFetch()`). The slot is the user's only while this row's calls are in flight, so the
 * other rows (Node's own fetch among them) run on what they would find.
 */
const processDispatcherAdapter = (): Adapter => {
  const agent = new Agent();
  const inner = resilientAdapter('resilient-fetch, process-wide dispatcher', {}, 'setGlobalDispatcher(new Agent())');
  let inFlight = 0;
  let previous: Dispatcher | undefined;
  return {
    ...inner,
    call: async (request) => {
      if (inFlight++ === 0) {
        previous = getGlobalDispatcher();
        setGlobalDispatcher(agent);
      }
      try {
        return await inner.call(request);
      } finally {
        if (--inFlight === 0 && previous) setGlobalDispatcher(previous);
      }
    },
    close: async () => {
      await inner.close();
      await agent.close();
    },
  };
};

/**
 * resilient-fetch with `dispatcher: new Agent({ allowH2: true })` against an HTTP/2 TLS server. The
 * bench server speaks HTTP/1.1 only, so this row's server runs in the client's process: its CPU
 * counts as the client's, and its deliveries are not in the bench server's counts.
 */
const http2Adapter = (): Adapter => {
  const server = createSecureServer({ key: TLS_KEY, cert: TLS_CERT, allowHTTP1: false }, (_req, res) => res.end('ok'));
  const listening = new Promise<string>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve(`https://127.0.0.1:${(server.address() as AddressInfo).port}`)),
  );
  const agent = new Agent({ allowH2: true, connect: { ca: TLS_CERT } });
  const client = createFetch({
    dispatcher: agent,
    defaults: { retry: { limit: 3, backoff: { base: 10, max: 100 } }, timeout: { attempt: 2_000, total: 30_000 } },
  });
  return {
    name: 'resilient-fetch, HTTP/2 (allowH2)',
    settings: 'resilient-fetch: dispatcher new Agent({ allowH2: true }), HTTP/2 TLS server in the client process',
    call: async (request) => {
      const origin = await listening;
      const url = new URL(request.url);
      const res = await client(origin + url.pathname + url.search, { method: request.method, headers: request.headers });
      await res.arrayBuffer();
      return res.status;
    },
    close: async () => {
      await client.close();
      await agent.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};

/**
 * What deadline propagation costs per call: each call made inside `runWithDeadline` (an
 * AsyncLocalStorage context; the deadline is the sooner of it and the total timeout) with the
 * deadline and attempt headers on.
 */
const deadlineAdapter = (): Adapter => {
  const inner = resilientAdapter(
    'resilient-fetch in runWithDeadline, deadline + attempt headers',
    { deadlineHeader: 'x-deadline-ms', attemptHeader: 'x-attempt' },
    "runWithDeadline(30_000, call); deadlineHeader: 'x-deadline-ms', attemptHeader: 'x-attempt'",
  );
  return { ...inner, call: (request) => runWithDeadline(30_000, () => inner.call(request)) };
};

/** The rows, in table order: the bare transport first, the AsyncLocalStorage row last. */
const overheadFactories = (): AdapterFactory[] => [
  ...PEERS,
  () => resilientAdapter('resilient-fetch'),
  processDispatcherAdapter,
  http2Adapter,
  () => resilientAdapter("resilient-fetch transport 'undici-fetch'", {}, '', { transport: 'undici-fetch' }),
  () => resilientAdapter('resilient-fetch hedge 20 ms', { hedge: { delay: 20 } }, 'hedge { delay: 20 }'),
  () =>
    resilientAdapter('resilient-fetch bulkhead 1024', { bulkhead: { maxConcurrent: 1_024 } }, 'bulkhead { maxConcurrent: 1024 }'),
  () =>
    resilientAdapter(
      'resilient-fetch deadline + attempt headers',
      { deadlineHeader: 'x-deadline-ms', attemptHeader: 'x-attempt' },
      "deadlineHeader: 'x-deadline-ms', attemptHeader: 'x-attempt'",
    ),
  // Last: the first AsyncLocalStorage.run() turns on Node's promise hooks for the rest of the
  // process (Node 20), so any row after this one would pay for them too.
  deadlineAdapter,
];

export const overhead: Scenario = {
  name: 'overhead',
  run: async (server, log) => {
    const calls = envInt('BENCH_OVERHEAD_CALLS', 1_000);
    const warmup = envInt('BENCH_OVERHEAD_WARMUP', 3_000);
    const concurrency = envInt('BENCH_OVERHEAD_CONCURRENCY', 32);
    const rounds = envInt('BENCH_OVERHEAD_ROUNDS', envInt('BENCH_ROUNDS', 6));
    const segments = envInt('BENCH_OVERHEAD_SEGMENTS', 4);
    const url = server.url();
    const factories = overheadFactories();
    const rows = await runPairedRounds({
      server,
      warmup,
      scenario: 'overhead',
      factories,
      rounds,
      ratioOf: 'perCpuSecond',
      alsoRatioOf: ['rps'],
      segments,
      rates: ['rps', 'perCpuSecond'],
      log,
      runOnce: async (adapter, run, _index, share = 1) => {
        const n = Math.round(calls * share);
        (globalThis as { gc?: () => void }).gc?.();
        const cpuBefore = process.cpuUsage();
        const { outcomes, wallMs } = await closedLoop(adapter, n, concurrency, (i) => tagged(url, run, i));
        const cpu = process.cpuUsage(cpuBefore);
        const cpuUs = cpu.user + cpu.system;
        const stats = await server.stats(run);
        const ms = outcomes.map((o) => o.ms);
        return {
          metrics: {
            rps: n / (wallMs / 1000),
            // The server runs in its own process and can saturate its core before a fast client does;
            // client CPU per request is what the client itself costs, whatever the server's ceiling.
            cpuUs: cpuUs / n,
            perCpuSecond: n / (cpuUs / 1e6),
            p50: percentile(ms, 50),
            p99: percentile(ms, 99),
            success: successRate(outcomes),
            deliveriesPerCall: stats.deliveries / n,
          },
        };
      },
    });
    const result = {
      ...resultHeader('overhead'),
      description: 'no faults, keep-alive, 127.0.0.1, closed loop',
      parameters: { calls, warmup, concurrency, rounds, segments },
      ratioOf: 'perCpuSecond',
      alsoRatioOf: [{ key: 'rps', label: 'requests/s' }],
      columns: [
        { key: 'rps', label: 'requests/s', digits: 0 },
        { key: 'cpuUs', label: 'client CPU µs/call', digits: 0 },
        { key: 'perCpuSecond', label: 'calls per client CPU-second', digits: 0 },
        { key: 'p50', label: 'p50 ms', digits: 2 },
        { key: 'p99', label: 'p99 ms', digits: 2 },
        { key: 'success', label: 'success %', digits: 1 },
        { key: 'deliveriesPerCall', label: 'deliveries/call', digits: 2 },
      ],
      rows,
      notes: [
        `Here each client is built once and reused (3,000 warm-up calls first), and each ratio is taken within a pair of adjacent runs, the client and a bare run beside it; each run of a pair is cut into ${segments} pieces of ${Math.round(calls / segments)} calls, played A B B A ..., so that a drift of the machine during the pair falls on both alike (p50 and p99 are means over a run's pieces). The bare row shows the medians of all its runs.`,
        'The ratio column is calls per client CPU-second relative to bare undici fetch (higher is better): the server has its own process and core, and at these rates it can be the ceiling of requests/s for every fast client alike, so requests/s alone understates differences between clients. The requests/s ratio (the target of issue 9: ≥ 1.2 for the default transport) is taken within the same pairs.',
      ],
    };
    const svg = barChart(
      'overhead: calls per client CPU-second relative to bare undici fetch',
      `${calls} GETs, concurrency ${concurrency}, median of ${rounds} rounds of paired runs; ${machineCaption(result.machine)}`,
      '× bare',
      rows.map((row) => ({ label: row.name, value: row.ratio })),
    );
    return { result, svgs: { 'overhead.svg': svg } };
  },
};
