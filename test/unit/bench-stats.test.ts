import { describe, expect, it } from 'vitest';
import { backoff, RETRIES, type Adapter, type BenchRequest } from '../../bench/lib/adapters.js';
import { closedLoop, isSuccess, openLoop } from '../../bench/lib/load.js';
import { combineSegments, envInt, table, type ScenarioResult } from '../../bench/lib/report.js';
import { cdfPoints, fmt, median, percentile, ratio } from '../../bench/lib/stats.js';
import { barChart, cdfChart, escapeXml, nines } from '../../bench/lib/svg.js';
import { seeded } from '../../bench/server.js';

describe('bench statistics', () => {
  it('percentile uses the nearest rank on unsorted samples', () => {
    const samples = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
    expect(percentile(samples, 50)).toBe(5);
    expect(percentile(samples, 90)).toBe(9);
    expect(percentile(samples, 99)).toBe(10);
    expect(percentile(samples, 0)).toBe(1);
    expect(percentile([], 50)).toBeNaN();
  });

  it('median averages the middle pair and ignores NaN', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([Number.NaN, 7])).toBe(7);
    expect(median([])).toBeNaN();
  });

  it('ratio is NaN against a zero or missing base', () => {
    expect(ratio(3, 2)).toBe(1.5);
    expect(ratio(3, 0)).toBeNaN();
    expect(ratio(3, Number.NaN)).toBeNaN();
    expect(fmt(Number.NaN)).toBe('–');
    expect(fmt(1.234, 2)).toBe('1.23');
  });

  it('cdfPoints is monotone, ends at 1 and keeps the last 1 % at full resolution', () => {
    const samples = Array.from({ length: 10_000 }, (_, i) => i + 1);
    const points = cdfPoints(samples, 100);
    expect(points.at(-1)).toEqual([10_000, 1]);
    for (let i = 1; i < points.length; i++) {
      expect(points[i]![0]).toBeGreaterThanOrEqual(points[i - 1]![0]);
      expect(points[i]![1]).toBeGreaterThan(points[i - 1]![1]);
    }
    expect(points.filter(([, share]) => share > 0.99)).toHaveLength(100);
    expect(cdfPoints([])).toEqual([]);
  });

  it('the seeded generator repeats its sequence and stays in [0, 1)', () => {
    const a = seeded(42);
    const b = seeded(42);
    const first = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(first);
    expect(first.every((v) => v >= 0 && v < 1)).toBe(true);
    expect(first.filter((v) => v < 0.3).length).toBeGreaterThan(200);
    expect(first.filter((v) => v < 0.3).length).toBeLessThan(400);
  });

  it('the shared back-off doubles from 10 ms and is capped at 100 ms', () => {
    expect([1, 2, 3, 4, 5, 6].map(backoff)).toEqual([10, 20, 40, 80, 100, 100]);
    expect(RETRIES).toBe(3);
  });

  it('envInt reads integers and names the variable when invalid', () => {
    process.env['BENCH_TEST_N'] = '12';
    expect(envInt('BENCH_TEST_N', 3)).toBe(12);
    process.env['BENCH_TEST_N'] = '0';
    expect(() => envInt('BENCH_TEST_N', 3)).toThrow(/BENCH_TEST_N must be an integer >= 1, got 0/);
    delete process.env['BENCH_TEST_N'];
    expect(envInt('BENCH_TEST_N', 3)).toBe(3);
  });
});

describe('bench charts', () => {
  it('escapes XML in labels', () => {
    expect(escapeXml(`a<b & "c"`)).toBe('a&lt;b &amp; &quot;c&quot;');
  });

  it('maps percentiles to nines', () => {
    expect(nines(0)).toBeCloseTo(0);
    expect(nines(0.9)).toBeCloseTo(1);
    expect(nines(0.99)).toBeCloseTo(2);
    expect(nines(0.999)).toBeCloseTo(3);
    expect(nines(1)).toBe(3.5);
  });

  it('the CDF chart draws one path and one legend entry per series', () => {
    const svg = cdfChart('t', 's', [
      {
        name: 'a',
        points: [
          [1, 0.5],
          [10, 0.99],
          [250, 1],
        ],
      },
      {
        name: 'b & c',
        points: [
          [2, 0.5],
          [300, 1],
        ],
      },
    ]);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<path /g)).toHaveLength(2);
    expect(svg).toContain('b &amp; c');
    expect(svg).not.toContain('NaN');
  });

  it('the bar chart scales bars to the largest value and prints every value', () => {
    const svg = barChart('t', 's', 'x', [
      { label: 'one', value: 1 },
      { label: 'four', value: 4 },
      { label: 'none', value: Number.NaN },
    ]);
    const widths = [...svg.matchAll(/<rect x="260" y="\d+" width="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(widths).toHaveLength(3);
    expect(widths[1]).toBeCloseTo(4 * widths[0]!, 0);
    expect(svg).toContain('4.00 x');
    expect(svg).toContain('– x');
    expect(svg).not.toContain('NaN');
  });
});

describe('bench load generators', () => {
  const request = (index: number): BenchRequest => ({ url: `http://127.0.0.1/${index}`, method: 'GET', headers: {} });

  it('closedLoop never exceeds its concurrency and keeps outcomes in call order', async () => {
    let inFlight = 0;
    let peak = 0;
    const adapter: Adapter = {
      name: 'stub',
      settings: '',
      call: async (req) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 1));
        inFlight--;
        const index = Number(new URL(req.url).pathname.slice(1));
        if (index % 10 === 9) throw Object.assign(new Error('boom'), { code: 'ECONNRESET' });
        return index % 2 === 0 ? 200 : 503;
      },
      close: async () => undefined,
    };
    const { outcomes } = await closedLoop(adapter, 50, 4, request);
    expect(peak).toBe(4);
    expect(outcomes).toHaveLength(50);
    expect(outcomes[0]?.status).toBe(200);
    expect(outcomes[1]?.status).toBe(503);
    expect(outcomes[9]?.error).toBe('ECONNRESET');
    expect(outcomes.filter(isSuccess)).toHaveLength(25);
  });

  it('openLoop starts floor(duration / interval) calls, ticking before each', async () => {
    const ticks: number[] = [];
    let calls = 0;
    const adapter: Adapter = {
      name: 'stub',
      settings: '',
      call: async () => {
        calls++;
        return 200;
      },
      close: async () => undefined,
    };
    const outcomes = await openLoop(adapter, 50, 5, request, (elapsed) => void ticks.push(elapsed));
    expect(outcomes).toHaveLength(10);
    expect(calls).toBe(10);
    expect(ticks).toHaveLength(10);
    for (let i = 1; i < outcomes.length; i++) expect(outcomes[i]!.startedAt).toBeGreaterThanOrEqual(outcomes[i - 1]!.startedAt);
  });
});

describe('bench tables', () => {
  /** A two-row result (bare, lib) for the table tests; `overrides` replace fields. */
  const demoResult = (overrides: Partial<ScenarioResult> = {}): ScenarioResult => ({
    scenario: 'demo',
    description: 'd',
    command: 'npm run bench:demo',
    machine: {
      cpu: 'CPU X',
      cores: 2,
      node: 'v20.20.2',
      platform: 'linux',
      date: '2026-01-01T00:00:00.000Z',
      loadavg: [1, 2, 3],
    },
    parameters: { calls: 10 },
    ratioOf: 'rps',
    columns: [{ key: 'rps', label: 'requests/s', digits: 0 }],
    rows: [
      { name: 'bare', settings: 'no retry', medians: { rps: 100 }, ratio: 1, ratioRange: [1, 1], rounds: [], samples: [] },
      { name: 'lib', settings: '3 retries', medians: { rps: 95 }, ratio: 0.95, ratioRange: [0.9, 1.01], rounds: [], samples: [] },
    ],
    notes: ['a note'],
    ...overrides,
  });

  it('prints machine, parameters, command, one row per client with its ratio, and every setting', () => {
    const text = table(demoResult());
    expect(text).toContain('CPU X, 2 cores, Node v20.20.2');
    expect(text).toContain('calls=10');
    expect(text).toContain('`npm run bench:demo`');
    expect(text).toContain('| lib | 95 | 0.95 | 0.90–1.01 |');
    expect(text).toContain('- lib: 3 retries');
    expect(text).toContain('a note');
  });

  it('combines a run from its segments: rates by harmonic mean (total calls over total time), the rest by mean', () => {
    // Two pieces of 250 calls: 0.1 s and 0.25 s, so 500 calls in 0.35 s.
    const combined = combineSegments(
      [
        { rps: 2_500, cpuUs: 300, p99: 10 },
        { rps: 1_000, cpuUs: 500, p99: 20 },
      ],
      new Set(['rps']),
    );
    expect(combined.rps).toBeCloseTo(500 / 0.35, 6);
    expect(combined.cpuUs).toBe(400);
    expect(combined.p99).toBe(15);
    expect(combineSegments([{ rps: 7 }], new Set(['rps']))).toEqual({ rps: 7 });
  });

  it('a table with alsoRatioOf adds its paired ratio and range columns', () => {
    const [bare, lib] = demoResult().rows;
    const text = table(
      demoResult({
        ratioOf: 'perCpuSecond',
        alsoRatioOf: [{ key: 'rps', label: 'requests/s' }],
        rows: [
          { ...bare!, alsoRatios: { rps: { ratio: 1, ratioRange: [1, 1] } } },
          {
            ...lib!,
            medians: { rps: 130 },
            ratio: 1.4,
            ratioRange: [1.2, 1.6],
            alsoRatios: { rps: { ratio: 1.3, ratioRange: [1.1, 1.5] } },
          },
        ],
      }),
    );
    expect(text).toContain('| client | requests/s | perCpuSecond ÷ bare | range over rounds | requests/s ÷ bare | range |');
    expect(text).toContain('| lib | 130 | 1.40 | 1.20–1.60 | 1.30 | 1.10–1.50 |');
  });
});
