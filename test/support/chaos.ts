/**
 * The seeded chaos run, shared by `test/integration/chaos.test.ts` (short) and `scripts/soak.ts`
 * (long). Each call's method, body and fault plan come from (seed, call index) alone and travel to
 * the fault server in headers, so the same seed gives the same fault schedule whatever the
 * concurrency. Invariants are checked per call and at the end; violations are collected, not
 * thrown, so a run reports all of them.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createFetch, isCircuitOpenError, isThrottledError } from '../../src/index.js';
import type { ResilientEvent, ResilientFetchOptions } from '../../src/index.js';
import {
  encodePlan,
  okBody,
  sha256Hex,
  startFaultServer,
  unavailableBody,
  type Fault,
  type FaultKind,
  type FaultServer,
} from './faults.js';
import { Rng } from './rng.js';

export type Method = 'GET' | 'PUT' | 'POST';
export type BodyKind = 'none' | 'string' | 'bytes' | 'stream' | 'large-stream';

export type CallPlan = {
  readonly index: number;
  readonly callId: string;
  readonly method: Method;
  readonly idempotencyKey: boolean;
  readonly bodyKind: BodyKind;
  readonly body: Uint8Array<ArrayBuffer> | null;
  readonly sha256: string;
  readonly faults: readonly Fault[];
  readonly responsePad: number;
  /** Milliseconds after which the caller aborts, if it does. */
  readonly abortAfter: number | undefined;
  /** Passes the run's long-lived shared AbortSignal (listener-leak check). */
  readonly sharedSignal: boolean;
};

/** Chaos client policy: retry, hedge and breaker all on, with short timers so a run is quick. */
export const CHAOS_LIMITS = { attempt: 1_000, total: 5_000, maxBufferBytes: 16_384, retries: 2, hedges: 1 } as const;

export const chaosOptions = (onEvent: (event: ResilientEvent) => void): ResilientFetchOptions => ({
  defaults: {
    retry: { limit: CHAOS_LIMITS.retries, backoff: { base: 1, max: 20, jitter: 'full' }, maxRetryAfter: 1_000 },
    hedge: { delay: 50, maxHedges: CHAOS_LIMITS.hedges },
    breaker: {
      volumeThreshold: 20,
      errorThresholdPercentage: 50,
      resetTimeout: 250,
      rollingCountTimeout: 1_000,
      rollingCountBuckets: 10,
    },
    timeout: { attempt: CHAOS_LIMITS.attempt, total: CHAOS_LIMITS.total },
    maxBufferBytes: CHAOS_LIMITS.maxBufferBytes,
  },
  onEvent,
});

const STORM_BLOCK = 100;
const RESTART_BLOCK = 500;

/** One delivery's fault, drawn from the call's own stream. */
const drawFault = (rng: Rng): Fault =>
  rng.weighted<() => Fault>([
    [() => ({ kind: 'ok' }), 52],
    [() => ({ kind: '503' }), 10],
    [
      () => ({
        kind: 'retry-after',
        value: rng.weighted([
          ['0', 6],
          ['1', 0.3],
          ['3600', 1],
          [new Date(0).toUTCString(), 1],
          ['soon', 1],
        ]),
      }),
      7,
    ],
    [() => ({ kind: 'slow-headers', ms: rng.chance(0.3) ? rng.int(1_100, 1_500) : rng.int(5, 300) }), 7],
    [() => ({ kind: 'trickle', chunks: rng.int(2, 5), ms: rng.int(1, 20) }), 6],
    [() => ({ kind: 'reset' }), 9],
    [() => ({ kind: 'reset-body' }), 4],
    [() => ({ kind: 'half' }), 4],
  ])();

const textEncoder = new TextEncoder();

/** Everything about call `index` of the run with `seed`: a pure function of the two. */
export const planCall = (seed: number, index: number): CallPlan => {
  const rng = Rng.forCall(seed, index);
  const method = rng.weighted<Method>([
    ['GET', 50],
    ['PUT', 20],
    ['POST', 30],
  ]);
  const idempotencyKey = method === 'POST' && rng.chance(0.5);
  let bodyKind: BodyKind = 'none';
  let body: Uint8Array<ArrayBuffer> | null = null;
  if (method !== 'GET') {
    bodyKind = rng.weighted<BodyKind>([
      ['string', 35],
      ['bytes', 35],
      ['stream', 20],
      ['large-stream', 10],
    ]);
    const size =
      bodyKind === 'large-stream'
        ? rng.int(CHAOS_LIMITS.maxBufferBytes + 1, CHAOS_LIMITS.maxBufferBytes * 3)
        : rng.int(0, rng.chance(0.1) ? CHAOS_LIMITS.maxBufferBytes : 2_048);
    body = bodyKind === 'string' ? textEncoder.encode(`call ${index} ✓ ünïcode ` + 'y'.repeat(size)) : rng.bytes(size);
  }
  const stormRng = Rng.forCall(seed ^ 0x5702a, Math.floor(index / STORM_BLOCK));
  const storm = stormRng.chance(0.06);
  const faults: Fault[] = [];
  for (let delivery = 0; delivery < 4; delivery++) {
    faults.push(storm ? (rng.chance(0.7) ? { kind: '503' } : { kind: 'retry-after', value: '0' }) : drawFault(rng));
  }
  const responsePad = rng.chance(0.05) ? rng.int(16_384, 65_536) : rng.int(0, 512);
  const abortAfter = rng.chance(0.03) ? rng.int(1, 300) : undefined;
  return {
    index,
    callId: `c${index}`,
    method,
    idempotencyKey,
    bodyKind,
    body,
    sha256: sha256Hex(body ?? new Uint8Array(0)),
    faults,
    responsePad,
    abortAfter,
    sharedSignal: rng.chance(0.5),
  };
};

/** The restart schedule: at most one restart per block of calls, at a seeded index, seeded downtime. */
export const restartAt = (seed: number, index: number): number | undefined => {
  const block = Math.floor(index / RESTART_BLOCK);
  const rng = Rng.forCall(seed ^ 0x7e57a, block);
  if (!rng.chance(0.6)) return undefined;
  const at = block * RESTART_BLOCK + rng.int(0, RESTART_BLOCK - 1);
  return at === index ? rng.int(10, 80) : undefined;
};

/** SHA-256 over the whole fault schedule of calls [0, calls): the same seed gives the same digest. */
export const scheduleDigest = (seed: number, calls: number): string => {
  const hash = createHash('sha256');
  for (let i = 0; i < calls; i++) {
    const p = planCall(seed, i);
    hash.update(
      `${i} ${p.method} ${p.idempotencyKey} ${p.bodyKind} ${p.sha256} ${encodePlan(p.faults)} ${p.abortAfter} ${restartAt(seed, i)}\n`,
    );
  }
  return hash.digest('hex').slice(0, 16);
};

const bodyInit = (plan: CallPlan): { body?: BodyInit; duplex?: 'half' } => {
  const bytes = plan.body;
  if (!bytes) return {};
  switch (plan.bodyKind) {
    case 'string':
      return { body: new TextDecoder().decode(bytes) };
    case 'bytes':
      return { body: bytes };
    default: {
      // A stream in uneven chunks, so buffering has to stitch them back together.
      let offset = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (offset >= bytes.byteLength) return controller.close();
          const size = Math.max(1, Math.min(bytes.byteLength - offset, 1 + ((offset * 7919) % 4_093)));
          controller.enqueue(bytes.slice(offset, offset + size));
          offset += size;
        },
      });
      return { body: stream, duplex: 'half' };
    }
  }
};

export type ChaosReport = {
  seed: number;
  calls: number;
  digest: string;
  settled: number;
  outcomes: Record<string, number>;
  events: Record<string, number>;
  faultsInjected: Record<FaultKind, number>;
  faultsTotal: number;
  arrivals: number;
  maxSettleMs: number;
  violations: number;
  /** The first violations, described. */
  examples: string[];
  openSocketsAfterClose: number;
  leakedResources: string[];
  unhandledRejections: number;
  maxListenersWarnings: number;
  elapsedMs: number;
  heap?: { beforeMB: number; afterMB: number; growthMB: number };
};

export type ChaosRunOptions = {
  seed: number;
  calls: number;
  concurrency?: number;
  /** Allowed beyond the total timeout before a call counts as late (loaded machine). */
  slackMs?: number;
  /** Called every `progressEvery` calls. */
  onProgress?: (done: number, report: ChaosReport) => void;
  progressEvery?: number;
  /** Runs after `warmup` calls with the engine quiet; the soak measures heap from there. */
  onWarm?: () => void;
  warmup?: number;
  /** Called after close() with all resources released: the soak's final heap measurement. */
  onClosed?: () => void;
};

const resourceCounts = (): Map<string, number> => {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
};

const excess = (before: Map<string, number>, after: Map<string, number>): string[] =>
  [...after].filter(([type, n]) => n > (before.get(type) ?? 0)).map(([type, n]) => `${type} +${n - (before.get(type) ?? 0)}`);

export const runChaos = async (options: ChaosRunOptions): Promise<ChaosReport> => {
  const { seed, calls, concurrency = 16, slackMs = 10_000, progressEvery = 1_000 } = options;
  const startedAt = performance.now();
  const resourcesBefore = resourceCounts();
  const report: ChaosReport = {
    seed,
    calls,
    digest: scheduleDigest(seed, calls),
    settled: 0,
    outcomes: {},
    events: {},
    faultsInjected: {} as Record<FaultKind, number>,
    faultsTotal: 0,
    arrivals: 0,
    maxSettleMs: 0,
    violations: 0,
    examples: [],
    openSocketsAfterClose: 0,
    leakedResources: [],
    unhandledRejections: 0,
    maxListenersWarnings: 0,
    elapsedMs: 0,
  };
  const violate = (text: string) => {
    report.violations++;
    if (report.examples.length < 20) report.examples.push(text);
  };
  const count = (key: string) => void (report.outcomes[key] = (report.outcomes[key] ?? 0) + 1);

  const onUnhandled = (reason: unknown) => {
    report.unhandledRejections++;
    violate(`unhandled rejection: ${String((reason as Error)?.stack ?? reason)}`);
  };
  const onWarning = (warning: Error) => {
    if (warning.name !== 'MaxListenersExceededWarning') return;
    report.maxListenersWarnings++;
    violate(`warning: ${warning.message}`);
  };
  process.on('unhandledRejection', onUnhandled);
  process.on('warning', onWarning);

  const server: FaultServer = await startFaultServer();
  const fetch = createFetch(
    chaosOptions((event) => {
      report.events[event.type] = (report.events[event.type] ?? 0) + 1;
      if (JSON.stringify(event).includes('chaos-secret')) violate(`event carries a header value: ${JSON.stringify(event)}`);
    }),
  );
  const shared = new AbortController();
  const restarts: Array<Promise<void>> = [];
  /** Calls settled but whose server-side records are checked later (late hedges and retries). */
  type Pending = Pick<CallPlan, 'callId' | 'method' | 'idempotencyKey' | 'bodyKind'>;
  let toCheck: Pending[] = [];

  const checkServerSide = (plan: Pending) => {
    const arrivals = server.arrivalsFor(plan.callId);
    if (plan.method === 'POST' && !plan.idempotencyKey && arrivals.length > 1) {
      violate(`${plan.callId}: POST without Idempotency-Key delivered ${arrivals.length} times`);
    }
    if (plan.bodyKind === 'large-stream' && arrivals.length > 1) {
      violate(`${plan.callId}: a body past maxBufferBytes was sent ${arrivals.length} times`);
    }
    const most = (CHAOS_LIMITS.retries + 1) * (CHAOS_LIMITS.hedges + 1);
    if (arrivals.length > most) violate(`${plan.callId}: ${arrivals.length} deliveries, more than ${most}`);
    server.release(plan.callId);
  };

  const runCall = async (plan: CallPlan) => {
    const restartDown = restartAt(seed, plan.index);
    if (restartDown !== undefined && server.listening) restarts.push(server.restart(restartDown));
    const headers: Record<string, string> = {
      'x-call-id': plan.callId,
      'x-fault': encodePlan(plan.faults),
      'x-body-sha256': plan.sha256,
      'x-response-pad': String(plan.responsePad),
      authorization: 'Bearer chaos-secret-token',
    };
    if (plan.idempotencyKey) headers['idempotency-key'] = `key-${plan.callId}`;
    const own = plan.abortAfter !== undefined ? new AbortController() : undefined;
    const reason = new Error(`caller aborted ${plan.callId}`);
    let abortedAt = Infinity;
    const abortTimer = own && setTimeout(() => ((abortedAt = performance.now()), own.abort(reason)), plan.abortAfter);
    const signal = own?.signal ?? (plan.sharedSignal ? shared.signal : undefined);
    const limit = CHAOS_LIMITS.total + slackMs;
    const started = performance.now();
    let hang: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<'late'>((resolve) => (hang = setTimeout(() => resolve('late'), limit)));
    try {
      let settledAt = 0;
      const call = fetch(server.url + `?i=${plan.index}`, {
        method: plan.method,
        headers,
        ...bodyInit(plan),
        ...(signal && { signal }),
      } as RequestInit).then(
        (response) => ((settledAt = performance.now()), { response }),
        (error: unknown) => ((settledAt = performance.now()), { error }),
      );
      const result = await Promise.race([call, late]);
      const took = performance.now() - started;
      if (result === 'late') {
        violate(`${plan.callId}: not settled after ${limit} ms`);
        count('late');
        await call; // still wait, so the run does not leave it behind
        return;
      }
      report.settled++;
      report.maxSettleMs = Math.max(report.maxSettleMs, took);
      if ('error' in result) {
        const error = result.error;
        if (error === reason) return count('rejected: caller abort');
        // "A caller's abort rejects with signal.reason at once": well after the abort, nothing else will do.
        if (settledAt - abortedAt > 100) violate(`${plan.callId}: aborted by the caller but rejected with ${String(error)}`);
        if (isCircuitOpenError(error)) {
          // A well-behaved caller waits out an open breaker (retryAfter) instead of spinning on it;
          // without this, one open breaker would fail the rest of the run in microseconds.
          await new Promise((resolve) => setTimeout(resolve, Math.min(error.retryAfter, CHAOS_LIMITS.total)));
          return count('rejected: circuit open');
        }
        if (isThrottledError(error)) return count('rejected: throttled');
        if (error instanceof DOMException && error.name === 'TimeoutError')
          return count(`rejected: ${error.message.startsWith('Attempt') ? 'attempt' : 'total'} timeout`);
        if (error instanceof TypeError) return count('rejected: network TypeError');
        violate(`${plan.callId}: unexpected rejection ${String((error as Error)?.stack ?? error)}`);
        return;
      }
      const { response } = result;
      if (settledAt - abortedAt > 100)
        violate(`${plan.callId}: aborted by the caller but resolved ${settledAt - abortedAt} ms later`);
      if (!(response instanceof Response)) violate(`${plan.callId}: resolved with something that is not a Response`);
      const expected =
        response.status === 200
          ? okBody(plan.callId, plan.sha256, plan.responsePad)
          : response.status === 503
            ? unavailableBody(plan.callId)
            : undefined;
      if (expected === undefined) violate(`${plan.callId}: unexpected status ${response.status}`);
      let text: string;
      try {
        text = await response.text();
      } catch (error) {
        // A reset or half-written body must fail the read, never resolve short.
        return count(`status ${response.status}, body read failed`);
      }
      if (expected !== undefined && text !== expected) {
        violate(`${plan.callId}: status ${response.status} body differs (${text.length} vs ${expected.length} chars)`);
      }
      count(`status ${response.status}`);
    } finally {
      clearTimeout(hang);
      clearTimeout(abortTimer);
      // Only what the check needs: a plan holds its body.
      toCheck.push({ callId: plan.callId, method: plan.method, idempotencyKey: plan.idempotencyKey, bodyKind: plan.bodyKind });
    }
  };

  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < calls) {
      const plan = planCall(seed, next++);
      await runCall(plan);
      done++;
      if (done === options.warmup) options.onWarm?.();
      if (done % progressEvery === 0) {
        // Check calls that settled a while ago: late deliveries of theirs have arrived by now.
        const ready = toCheck;
        toCheck = [];
        await sleep(1);
        if (ready.length > concurrency * 4) {
          for (const plan of ready.slice(0, -concurrency * 2)) checkServerSide(plan);
          toCheck.push(...ready.slice(-concurrency * 2));
        } else toCheck.push(...ready);
        options.onProgress?.(done, report);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
    await Promise.all(restarts);
    await fetch.close();
    for (const plan of toCheck) checkServerSide(plan);
    toCheck = [];
    // The client closed its pool: the server must see every socket go away.
    for (let i = 0; i < 100 && server.openSockets() > 0; i++) await sleep(50);
    report.openSocketsAfterClose = server.openSockets();
    if (report.openSocketsAfterClose > 0) violate(`${report.openSocketsAfterClose} sockets still open after close()`);
  } finally {
    shared.abort();
    await server.close();
    Object.assign(report.faultsInjected, server.injected);
    report.faultsTotal = Object.entries(server.injected).reduce((sum, [kind, n]) => sum + (kind === 'ok' ? 0 : n), 0);
    report.arrivals = server.arrivalCount;
    for (const mismatch of server.mismatches.slice(0, 5))
      violate(`${mismatch.callId}: delivered body differs from what was sent`);
    report.violations += Math.max(0, server.mismatches.length - 5);
    process.off('unhandledRejection', onUnhandled);
    process.off('warning', onWarning);
  }
  // Nothing of ours may stay active: timers, sockets, servers.
  let leaked = excess(resourcesBefore, resourceCounts());
  for (let i = 0; i < 100 && leaked.length > 0; i++) {
    await sleep(50);
    leaked = excess(resourcesBefore, resourceCounts());
  }
  report.leakedResources = leaked;
  if (leaked.length > 0) violate(`active resources left after close(): ${leaked.join(', ')}`);
  options.onClosed?.();
  report.elapsedMs = Math.round(performance.now() - startedAt);
  return report;
};
