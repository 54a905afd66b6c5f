/** What a scenario module exports, and helpers shared by the scenarios. */
import type { BenchRequest } from './adapters.js';
import type { FaultServer } from './fault-server.js';
import { isSuccess, type Outcome } from './load.js';
import type { ScenarioResult } from './report.js';

export type ScenarioOutput = { result: ScenarioResult; svgs: Record<string, string> };
export type Scenario = {
  readonly name: string;
  run(server: FaultServer, log: (line: string) => void): Promise<ScenarioOutput>;
};

/** A GET (or a POST with `body`) tagged with the run and call ids the fault server counts by. */
export const tagged = (url: string, run: string, index: number, extra: Partial<BenchRequest> = {}): BenchRequest => ({
  url,
  method: 'GET',
  ...extra,
  headers: { 'x-bench-run': run, 'x-call-id': `${run}-${index}`, ...extra.headers },
});

export const successRate = (outcomes: readonly Outcome[]): number =>
  outcomes.length === 0 ? Number.NaN : (100 * outcomes.filter(isSuccess).length) / outcomes.length;

export const command = (scenario: string): string => `npm run bench:${scenario}`;
