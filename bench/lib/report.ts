/** Interleaved rounds, medians, ratios against the bare transport, tables and JSON files. */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Adapter, AdapterFactory } from './adapters.js';
import type { FaultServer } from './fault-server.js';
import { closedLoop } from './load.js';
import { command, tagged } from './scenario.js';
import { fmt, median, ratio } from './stats.js';

export const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));

export type Machine = { cpu: string; cores: number; node: string; platform: string; date: string; loadavg: number[] };

export const machine = (): Machine => ({
  cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
  cores: os.cpus().length,
  node: process.version,
  platform: `${os.platform()} ${os.release()}`,
  date: new Date().toISOString(),
  loadavg: os.loadavg().map((v) => Math.round(v * 100) / 100),
});

/** The end of a chart's subtitle: the machine and the date. */
export const machineCaption = (m: Machine): string => `${m.cpu}, ${m.cores} cores, Node ${m.node}, ${m.date.slice(0, 10)}`;

/** The fields every scenario result starts with: its name, the command that reruns it, this machine now. */
export const resultHeader = (scenario: string): { scenario: string; command: string; machine: Machine } => ({
  scenario,
  command: command(scenario),
  machine: machine(),
});

export const machineLine = (m: Machine): string =>
  `${m.cpu}, ${m.cores} cores, Node ${m.node}, ${m.platform}, ${m.date} (load average at start ${m.loadavg.join(' / ')})`;

/** Reads an integer from the environment, with a default. */
export const envInt = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be an integer >= 1, got ${raw}`);
  return value;
};

export type Metrics = Record<string, number>;
export type Column = { readonly key: string; readonly label: string; readonly digits?: number };
/** One measured run; `share` is the part of the scenario's calls to make (less than 1 for one segment of a pair). */
export type RunOnce = (
  adapter: Adapter,
  run: string,
  index: number,
  share?: number,
) => Promise<{ metrics: Metrics; samples?: number[] }>;

/**
 * One run's metrics from its equal-sized segments: the harmonic mean for rates (`harmonic` keys;
 * for equal call counts that is total calls over total time), the arithmetic mean for the rest.
 */
export const combineSegments = (segments: readonly Metrics[], harmonic: ReadonlySet<string>): Metrics => {
  const combined: Metrics = {};
  for (const key of Object.keys(segments[0] ?? {})) {
    const values = segments.map((m) => m[key] ?? Number.NaN);
    combined[key] = harmonic.has(key)
      ? values.length / values.reduce((sum, v) => sum + 1 / v, 0)
      : values.reduce((sum, v) => sum + v, 0) / values.length;
  }
  return combined;
};

export type Row = {
  name: string;
  settings: string;
  /** Median over rounds of each metric. */
  medians: Metrics;
  /** Median over rounds of (metric / bare transport's metric in the same round). */
  ratio: number;
  /** Smallest and largest per-round ratio: the spread the median hides. */
  ratioRange: [number, number];
  rounds: Metrics[];
  /** Latency samples pooled over the rounds (only when the scenario keeps them). */
  samples: number[];
  /** Further metrics' ratios taken the same way (`alsoRatioOf`), by metric key. */
  alsoRatios?: Record<string, { ratio: number; ratioRange: [number, number] }>;
};

export type ScenarioResult = {
  scenario: string;
  description: string;
  command: string;
  machine: Machine;
  parameters: Record<string, number | string>;
  ratioOf: string;
  /** Metrics whose paired ratios get their own columns, after `ratioOf`'s, with these labels. */
  alsoRatioOf?: ReadonlyArray<{ readonly key: string; readonly label: string }>;
  columns: Column[];
  rows: Row[];
  notes: string[];
  /** Further per-scenario data kept in the JSON only (timelines, per-window counts). */
  extra?: Record<string, unknown>;
};

/** Fault-free calls, not counted (the server forgets them). */
const warm = async (server: FaultServer, adapter: Adapter, calls: number, run: string): Promise<void> => {
  const url = server.url();
  try {
    await closedLoop(adapter, calls, 8, (index) => tagged(url, run, index));
  } finally {
    await server.forget(run);
  }
};

export type RowRuns = { name: string; settings: string; rounds: Metrics[]; samples: number[] };

/** The median of a row's ratios and their range (NaN when there are none). */
const summarise = (ratios: readonly number[]): { ratio: number; ratioRange: [number, number] } => {
  const own = ratios.filter((r) => !Number.isNaN(r));
  return {
    ratio: median([...ratios]),
    ratioRange: own.length ? [Math.min(...own), Math.max(...own)] : [Number.NaN, Number.NaN],
  };
};

/** Medians over runs, the median ratio and the range of ratios, per row. */
const toRows = (perRow: readonly RowRuns[], ratios: readonly number[][], also: Record<string, number[][]> = {}): Row[] =>
  perRow.map((row, i) => {
    const keys = Object.keys(row.rounds[0] ?? {});
    const medians: Metrics = {};
    for (const key of keys) medians[key] = median(row.rounds.map((m) => m[key] ?? Number.NaN));
    const extra = Object.entries(also).map(([key, byRow]) => [key, summarise(byRow[i] ?? [])] as const);
    return { ...row, medians, ...summarise(ratios[i] ?? []), ...(extra.length ? { alsoRatios: Object.fromEntries(extra) } : {}) };
  });

/**
 * Rows from runs a scenario made itself (its own servers, not the fault server): medians over
 * rounds, and per round the ratio of `ratioOf` to the first row's, as `runRounds` does.
 */
export const rowsFromRuns = (perRow: readonly RowRuns[], ratioOf: string): Row[] => {
  const reference = perRow[0]?.rounds ?? [];
  const ratios = perRow.map((row) =>
    row.rounds.map((metrics, round) => ratio(metrics[ratioOf] ?? Number.NaN, reference[round]?.[ratioOf] ?? Number.NaN)),
  );
  return toRows(perRow, ratios);
};

/**
 * Runs every adapter once per round, in the same order each round (A B C, A B C, ...), a fresh
 * client per run, so slow drifts of a shared machine hit every row alike. The first row is the
 * reference for ratios.
 */
export const runRounds = async (options: {
  server: FaultServer;
  scenario: string;
  factories: readonly AdapterFactory[];
  rounds: number;
  runOnce: RunOnce;
  ratioOf: string;
  log?: (line: string) => void;
  /** Fault-free calls per client before the first round. */
  warmup?: number;
}): Promise<Row[]> => {
  const { server, scenario, factories, rounds, runOnce, ratioOf } = options;
  const perRow: RowRuns[] = [];
  const ratios: number[][] = factories.map(() => []);
  // Warm-up: every client makes a few fault-free calls first, so no row pays for JIT or cold pools.
  if (options.warmup && options.warmup > 0) {
    for (const [i, factory] of factories.entries()) {
      const adapter = factory();
      const run = `${scenario}-warmup-a${i}`;
      try {
        await warm(server, adapter, options.warmup, run);
      } finally {
        await adapter.close();
      }
    }
  }
  for (let round = 0; round < rounds; round++) {
    let base = Number.NaN;
    for (const [i, factory] of factories.entries()) {
      const adapter = factory();
      const run = `${scenario}-r${round}-a${i}`;
      try {
        const { metrics, samples } = await runOnce(adapter, run, i);
        const row = (perRow[i] ??= { name: adapter.name, settings: adapter.settings, rounds: [], samples: [] });
        row.rounds.push(metrics);
        if (samples) for (const s of samples) row.samples.push(s);
        const value = metrics[ratioOf] ?? Number.NaN;
        if (i === 0) base = value;
        ratios[i]?.push(ratio(value, base));
        options.log?.(`  round ${round + 1}/${rounds} ${adapter.name}: ${ratioOf}=${fmt(value, 2)}`);
      } finally {
        await adapter.close();
        await server.forget(run);
      }
    }
  }
  return toRows(perRow, ratios);
};

/**
 * For the per-call overhead: each client is built once and reused for every run, as an
 * application builds its client once (a fresh client per run would bill its construction and its
 * ramp-up to the calls); before the first round each makes `warmup` calls. The machine's speed
 * drifts from one second to the next, so every client's run is paired with a run of the reference
 * (the first factory) right beside it, in alternating order (reference first in one round, second
 * in the next), and its ratio is taken within that pair. The reference row reports the medians of
 * all its runs. With `segments` > 1 a pair's two runs are cut into that many pieces each, played
 * A B B A A B ... so that a drift during the pair falls on both alike; each run's metrics are
 * combined from its pieces (`combineSegments`).
 */
export const runPairedRounds = async (options: {
  server: FaultServer;
  scenario: string;
  factories: readonly AdapterFactory[];
  rounds: number;
  warmup: number;
  runOnce: RunOnce;
  ratioOf: string;
  /** Further metrics whose ratios are taken within the same pairs. */
  alsoRatioOf?: readonly string[];
  /** Pieces per run of a pair, interleaved A B B A ... (default 1: one piece each). */
  segments?: number;
  /** Metrics that are rates (per second): combined from segments by harmonic mean. */
  rates?: readonly string[];
  log?: (line: string) => void;
}): Promise<Row[]> => {
  const { scenario, factories, rounds, runOnce, ratioOf } = options;
  const adapters = factories.map((factory) => factory());
  try {
    const perRow: RowRuns[] = adapters.map((a) => ({ name: a.name, settings: a.settings, rounds: [], samples: [] }));
    const ratios: number[][] = factories.map(() => []);
    const also: Record<string, number[][]> = Object.fromEntries(
      (options.alsoRatioOf ?? []).map((key) => [key, factories.map(() => [])]),
    );
    for (const [i, adapter] of adapters.entries())
      await warm(options.server, adapter, options.warmup, `${scenario}-warmup-a${i}`);
    const segments = options.segments ?? 1;
    const rates = new Set(options.rates ?? []);
    /** One pair of runs, client `i` and the reference, in `segments` pieces each; returns both runs' metrics. */
    const measurePair = async (
      i: number,
      referenceFirst: boolean,
      run: string,
    ): Promise<{ client: Metrics; reference: Metrics }> => {
      const pieces: Metrics[][] = [[], []]; // [reference, client]
      for (let j = 0; j < segments; j++) {
        // A B, B A, A B, ...: the order flips every piece, and the first piece's order every round.
        const order = (j % 2 === 0) === referenceFirst ? [0, i] : [i, 0];
        for (const index of order) {
          const adapter = adapters[index];
          if (!adapter) throw new RangeError(`no client ${index}`);
          const { metrics } = await runOnce(adapter, `${run}-a${index}${segments > 1 ? `-s${j}` : ''}`, index, 1 / segments);
          pieces[index === 0 ? 0 : 1]?.push(metrics);
        }
      }
      const reference = combineSegments(pieces[0] ?? [], rates);
      const client = combineSegments(pieces[1] ?? [], rates);
      perRow[0]?.rounds.push(reference);
      perRow[i]?.rounds.push(client);
      return { client, reference };
    };
    for (let round = 0; round < rounds; round++) {
      for (let i = 1; i < factories.length; i++) {
        const referenceFirst = (round + i) % 2 === 0;
        const { client, reference } = await measurePair(i, referenceFirst, `${scenario}-r${round}-p${i}`);
        const pair = (key: string) => ratio(client[key] ?? Number.NaN, reference[key] ?? Number.NaN);
        ratios[i]?.push(pair(ratioOf));
        for (const [key, byRow] of Object.entries(also)) byRow[i]?.push(pair(key));
        const extra = Object.keys(also)
          .map((key) => `, ${key} ÷ reference = ${fmt(pair(key), 2)}`)
          .join('');
        options.log?.(
          `  round ${round + 1}/${rounds} ${perRow[i]?.name}: ${ratioOf} ÷ reference = ${fmt(pair(ratioOf), 2)}${extra}`,
        );
      }
      ratios[0]?.push(1);
      for (const byRow of Object.values(also)) byRow[0]?.push(1);
    }
    return toRows(perRow, ratios, also);
  } finally {
    await Promise.allSettled(adapters.map((adapter) => adapter.close()));
  }
};

/** The Markdown table printed to stdout and copied into docs/bench.md. */
export const table = (result: ScenarioResult): string => {
  const also = result.alsoRatioOf ?? [];
  const head = [
    'client',
    ...result.columns.map((c) => c.label),
    `${result.ratioOf} ÷ bare`,
    'range over rounds',
    ...also.flatMap((a) => [`${a.label} ÷ bare`, 'range']),
  ];
  const alsoCells = (row: Row) =>
    also.map((a) => {
      const r = row.alsoRatios?.[a.key];
      return r ? ` ${fmt(r.ratio, 2)} | ${fmt(r.ratioRange[0], 2)}–${fmt(r.ratioRange[1], 2)} |` : ' – | – |';
    });
  const lines = [
    `### ${result.scenario}: ${result.description}`,
    '',
    `Machine: ${machineLine(result.machine)}.`,
    `Parameters: ${Object.entries(result.parameters)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')}. Command: \`${result.command}\`.`,
    '',
    `| ${head.join(' | ')} |`,
    `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...result.rows.map(
      (row) =>
        `| ${row.name} | ${result.columns.map((c) => fmt(row.medians[c.key] ?? Number.NaN, c.digits ?? 1)).join(' | ')} | ${fmt(row.ratio, 2)} | ${fmt(row.ratioRange[0], 2)}–${fmt(row.ratioRange[1], 2)} |${alsoCells(row).join('')}`,
    ),
    '',
    'Medians over rounds; ratios are taken per round against the first row (the bare transport), then their median; the range is the smallest and largest per-round ratio.',
    ...result.notes.map((note) => `${note}`),
    '',
    'Settings:',
    ...result.rows.map((row) => `- ${row.name}: ${row.settings}`),
    '',
  ];
  return lines.join('\n');
};

export const writeResult = (result: ScenarioResult, svgs: Record<string, string> = {}): string[] => {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const written: string[] = [];
  const json = `${RESULTS_DIR}${result.scenario}.json`;
  // Pooled samples are summarised in the tables and charts; keep the JSON small and readable.
  const slim = { ...result, rows: result.rows.map(({ samples: _samples, ...rest }) => rest) };
  writeFileSync(json, `${JSON.stringify(slim, null, 2)}\n`);
  written.push(json);
  writeFileSync(`${RESULTS_DIR}${result.scenario}.md`, table(result));
  written.push(`${RESULTS_DIR}${result.scenario}.md`);
  for (const [name, svg] of Object.entries(svgs)) {
    writeFileSync(`${RESULTS_DIR}${name}`, svg);
    written.push(`${RESULTS_DIR}${name}`);
  }
  return written;
};
