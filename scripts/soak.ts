/**
 * Soak: the seeded chaos run at length (default 50,000 calls), reporting calls, faults injected,
 * invariant violations and heap growth. Run with `npm run soak` (node --expose-gc).
 *   SOAK_CALLS=50000  CHAOS_SEED=<seed>  SOAK_CONCURRENCY=16  SOAK_MAX_HEAP_GROWTH_MB=32
 * Exits 1 on any violation or when the heap grows past the bound.
 */
import { runChaos } from '../test/support/chaos.js';
import { seedFromEnv } from '../test/support/rng.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('soak: run with node --expose-gc (npm run soak)');
  process.exit(2);
}
const MB = 1024 * 1024;
const heapMB = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed / MB;
};
const settle = async () => {
  for (let i = 0; i < 5; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return heapMB();
};

const seed = seedFromEnv();
const calls = Number(process.env.SOAK_CALLS ?? 50_000);
const concurrency = Number(process.env.SOAK_CONCURRENCY ?? 16);
const bound = Number(process.env.SOAK_MAX_HEAP_GROWTH_MB ?? 32);
const warmup = Math.min(5_000, Math.floor(calls / 10));
console.log(`soak: seed=${seed} calls=${calls} concurrency=${concurrency} (repeat with CHAOS_SEED=${seed})`);

const before = await settle();
let warm = NaN;
let peak = 0;
const started = performance.now();
const report = await runChaos({
  seed,
  calls,
  concurrency,
  warmup,
  onWarm: () => {
    warm = heapMB();
  },
  progressEvery: 5_000,
  onProgress: (done, r) => {
    const heap = heapMB();
    if (done > warmup) peak = Math.max(peak, heap - warm);
    const rate = done / ((performance.now() - started) / 1_000);
    console.log(`soak: ${done}/${calls} calls, ${rate.toFixed(0)}/s, heap ${heap.toFixed(1)} MB, violations ${r.violations}`);
  },
});
const after = await settle();
const growth = after - warm;

console.log(`soak: done in ${(report.elapsedMs / 1_000).toFixed(1)} s`);
console.log(`  seed                  ${seed} (schedule ${report.digest})`);
console.log(`  calls                 ${report.calls} (settled ${report.settled})`);
console.log(`  deliveries            ${report.arrivals}`);
console.log(`  faults injected       ${report.faultsTotal} ${JSON.stringify(report.faultsInjected)}`);
console.log(`  outcomes              ${JSON.stringify(report.outcomes)}`);
console.log(`  events                ${JSON.stringify(report.events)}`);
console.log(`  invariant violations  ${report.violations}`);
for (const example of report.examples) console.log(`    ${example}`);
console.log(`  slowest settle        ${Math.round(report.maxSettleMs)} ms`);
console.log(
  `  heap (after GC)       start ${before.toFixed(1)} MB, after ${warmup} warm-up calls ${warm.toFixed(1)} MB, after close ${after.toFixed(1)} MB`,
);
console.log(
  `  heap growth           ${growth.toFixed(1)} MB after warm-up (largest mid-run ${peak.toFixed(1)} MB; bound ${bound} MB)`,
);

const ok = report.violations === 0 && growth < bound && peak < bound;
if (!ok) console.log('soak: FAILED');
process.exit(ok ? 0 : 1);
