/** Load generators: closed loop (N workers) and open loop (fixed arrival interval). */
import type { Adapter, BenchRequest } from './adapters.js';

export type Outcome = {
  /** Milliseconds from the call to its settled result (body read). */
  readonly ms: number;
  /** The final status, when the call resolved. */
  readonly status?: number;
  /** Error name (or code) when the call rejected. */
  readonly error?: string;
};

export const isSuccess = (outcome: Outcome): boolean => outcome.status !== undefined && outcome.status < 400;

const errorName = (error: unknown): string => {
  if (error && typeof error === 'object') {
    const { name, code } = error as { name?: unknown; code?: unknown };
    if (typeof code === 'string') return code;
    // Some libraries (cockatiel) leave `name` at 'Error'; their class name says more.
    if (typeof name === 'string' && name !== 'Error') return name;
    const ctor = (error as { constructor?: { name?: unknown } }).constructor?.name;
    if (typeof ctor === 'string') return ctor;
    if (typeof name === 'string') return name;
  }
  return 'Error';
};

const timed = async (adapter: Adapter, request: BenchRequest): Promise<Outcome> => {
  const start = performance.now();
  try {
    const status = await adapter.call(request);
    return { ms: performance.now() - start, status };
  } catch (error) {
    return { ms: performance.now() - start, error: errorName(error) };
  }
};

/** Runs `calls` requests through `concurrency` workers; returns outcomes in call order and the wall time. */
export const closedLoop = async (
  adapter: Adapter,
  calls: number,
  concurrency: number,
  request: (index: number) => BenchRequest,
): Promise<{ outcomes: Outcome[]; wallMs: number }> => {
  const outcomes: Outcome[] = new Array<Outcome>(calls);
  let next = 0;
  const start = performance.now();
  const worker = async () => {
    while (next < calls) {
      const index = next++;
      outcomes[index] = await timed(adapter, request(index));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, calls) }, worker));
  return { outcomes, wallMs: performance.now() - start };
};

/** Starts one call every `intervalMs` for `durationMs`, whatever the earlier ones do; waits for all. */
export const openLoop = async (
  adapter: Adapter,
  durationMs: number,
  intervalMs: number,
  request: (index: number) => BenchRequest,
  onTick?: (elapsedMs: number) => Promise<void> | void,
): Promise<Array<Outcome & { readonly startedAt: number }>> => {
  const pending: Array<Promise<Outcome & { startedAt: number }>> = [];
  const start = performance.now();
  const total = Math.floor(durationMs / intervalMs);
  for (let index = 0; index < total; index++) {
    const due = start + index * intervalMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    if (onTick) await onTick(performance.now() - start);
    const startedAt = performance.now() - start;
    pending.push(timed(adapter, request(index)).then((outcome) => ({ ...outcome, startedAt })));
  }
  return Promise.all(pending);
};

export type LoadPhase = { readonly durationMs: number; readonly ratePerSecond: number };

/**
 * Open loop in phases: during each phase, one call every `1000 / ratePerSecond` ms, whatever the
 * earlier calls do (arrivals, not concurrency); waits for every call. Each outcome carries its start
 * (ms since the loop began) and its phase index.
 */
export const phasedOpenLoop = async (
  adapter: Adapter,
  phases: readonly LoadPhase[],
  request: (index: number) => BenchRequest,
): Promise<Array<Outcome & { readonly startedAt: number; readonly phase: number }>> => {
  const pending: Array<Promise<Outcome & { startedAt: number; phase: number }>> = [];
  const start = performance.now();
  let index = 0;
  let phaseStart = 0;
  for (const [phase, { durationMs, ratePerSecond }] of phases.entries()) {
    const interval = 1000 / ratePerSecond;
    const count = Math.round((durationMs / 1000) * ratePerSecond);
    for (let k = 0; k < count; k++) {
      const wait = start + phaseStart + k * interval - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const startedAt = performance.now() - start;
      pending.push(timed(adapter, request(index++)).then((outcome) => ({ ...outcome, startedAt, phase })));
    }
    phaseStart += durationMs;
  }
  return Promise.all(pending);
};

/**
 * Closed loop for a fixed time: `concurrency` workers each start a new call as soon as their last
 * one settles, until `durationMs` has passed; waits for the calls in flight. Each outcome carries its
 * start (ms since the loop began).
 */
export const closedLoopFor = async (
  adapter: Adapter,
  durationMs: number,
  concurrency: number,
  request: (index: number) => BenchRequest,
): Promise<Array<Outcome & { readonly startedAt: number }>> => {
  const outcomes: Array<Outcome & { startedAt: number }> = [];
  let next = 0;
  const start = performance.now();
  const worker = async () => {
    for (let elapsed = 0; elapsed < durationMs; elapsed = performance.now() - start) {
      const index = next++;
      const outcome = await timed(adapter, request(index));
      outcomes[index] = { ...outcome, startedAt: elapsed };
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return outcomes;
};
