/**
 * Benchmark entry point: `node --import tsx bench/run.ts [scenario ...]` (all when none given).
 * Starts the fault server in a child process, runs the scenarios one after another, prints each
 * table and writes bench/results/<scenario>.{json,md} plus the SVG charts.
 */
import { startFaultProcess } from './lib/fault-server.js';
import { table, writeResult } from './lib/report.js';
import type { Scenario } from './lib/scenario.js';
import { flaky } from './scenarios/flaky.js';
import { outage } from './scenarios/outage.js';
import { overhead } from './scenarios/overhead.js';
import { overload, overloadQueue } from './scenarios/overload.js';
import { postSafety } from './scenarios/post-safety.js';
import { rollingRestart } from './scenarios/rolling-restart.js';
import { tail } from './scenarios/tail.js';

const SCENARIOS: readonly Scenario[] = [overhead, tail, flaky, outage, postSafety, rollingRestart, overload, overloadQueue];

const main = async () => {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((name) => !SCENARIOS.some((s) => s.name === name));
  if (unknown.length > 0) {
    throw new TypeError(`unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  }
  const selected = wanted.length === 0 ? SCENARIOS : SCENARIOS.filter((s) => wanted.includes(s.name));
  const server = await startFaultProcess();
  const started = performance.now();
  try {
    for (const scenario of selected) {
      const t0 = performance.now();
      console.log(`\n== ${scenario.name} ==`);
      const { result, svgs } = await scenario.run(server, (line) => console.log(line));
      console.log(`\n${table(result)}`);
      for (const file of writeResult(result, svgs)) console.log(`wrote ${file}`);
      console.log(`${scenario.name} took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
  } finally {
    await server.close();
  }
  console.log(`\nall done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
};

await main();
