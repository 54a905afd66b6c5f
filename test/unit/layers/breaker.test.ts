import CircuitBreaker from 'opossum';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import type { ResilientEvent } from '../../../src/diagnostics.js';
import { CircuitOpenError, isCircuitOpenError } from '../../../src/errors.js';
import { createBreakerLayer } from '../../../src/layers/breaker.js';
import type { Attempt, Send } from '../../../src/pipeline/types.js';
import { attemptTimeoutError } from '../../../src/errors.js';
import type { BreakerOptions, Policy } from '../../../src/options.js';
import { attemptOf, layerContext, preparedRequest } from '../../support/attempt.js';

const harness = (maxHosts = 100) => layerContext({ maxHosts });

const BREAKER: BreakerOptions = { volumeThreshold: 10, resetTimeout: 1_000 };

/** An attempt with no signal unless the test gives one, as a call without a caller's signal has. */
const attemptFor = (url: string, policy: Policy = { breaker: BREAKER }, signal?: AbortSignal): Attempt =>
  attemptOf(preparedRequest(url, policy, { signal, headers: [['accept', 'text/plain']] }));

const status =
  (code: number, body = `status ${code}`) =>
  () =>
    Promise.resolve(new Response(body, { status: code }));

const A = 'http://a.test:8080/items?x=1';
const B = 'http://b.test:8080/items';

const breakerEvents = (events: ResilientEvent[]) =>
  events.filter((e) => e.type === 'breaker').map((e) => (e.type === 'breaker' ? `${e.host} ${e.from}->${e.to}` : ''));

/** Sends `n` attempts one after another; returns the responses (or errors). */
const sendMany = async (send: Send, n: number, attempt: () => Attempt) => {
  const out: Array<Response | unknown> = [];
  for (let i = 0; i < n; i++) out.push(await send(attempt()).catch((error: unknown) => error));
  return out;
};

let h: ReturnType<typeof harness>;
beforeEach(() => {
  vi.useFakeTimers();
  h = harness();
});
afterEach(async () => {
  await h.close();
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('breaker layer', () => {
  test('opens after volumeThreshold failing statuses, then rejects without calling next', async () => {
    const next = vi.fn<Send>(status(503));
    const send = h.asCalls(createBreakerLayer(h.context)(next));
    const first = await sendMany(send, 10, () => attemptFor(A));
    expect(first.every((r) => r instanceof Response && r.status === 503)).toBe(true);
    expect(next).toHaveBeenCalledTimes(10);
    expect(breakerEvents(h.events)).toEqual(['http://a.test:8080 closed->open']);

    const error = await send(attemptFor(A)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(isCircuitOpenError(error)).toBe(true);
    expect((error as CircuitOpenError).host).toBe('http://a.test:8080');
    expect((error as CircuitOpenError).retryAfter).toBeGreaterThan(0);
    expect((error as CircuitOpenError).retryAfter).toBeLessThanOrEqual(1_000);
    expect(next).toHaveBeenCalledTimes(10);
    expect(h.stats('http://a.test:8080')).toMatchObject({ breaker: { state: 'open', fires: 10, failures: 10, rejects: 1 } });
  });

  test('a failure status is counted but its Response reaches the caller with its body', async () => {
    const response = new Response('still here', { status: 502 });
    const send = h.asCalls(createBreakerLayer(h.context)(() => Promise.resolve(response)));
    const got = await send(attemptFor(A));
    expect(got).toBe(response);
    expect(await got.text()).toBe('still here');
    expect(h.stats('http://a.test:8080')).toMatchObject({ breaker: { state: 'closed', fires: 1, failures: 1 } });
  });

  test('4xx are successes for the breaker', async () => {
    const next = vi.fn<Send>(status(404));
    const send = h.asCalls(createBreakerLayer(h.context)(next));
    await sendMany(send, 30, () => attemptFor(A));
    expect(next).toHaveBeenCalledTimes(30);
    expect(h.stats('http://a.test:8080')).toMatchObject({
      breaker: { state: 'closed', fires: 30, successes: 30, failures: 0, rejects: 0 },
    });
    expect(breakerEvents(h.events)).toEqual([]);
  });

  test('failureStatusCodes decides which statuses count', async () => {
    const policy: Policy = { breaker: { ...BREAKER, failureStatusCodes: [429] } };
    const send = h.asCalls(createBreakerLayer(h.context)(status(429)));
    await sendMany(send, 10, () => attemptFor(A, policy));
    expect(h.stats('http://a.test:8080')).toMatchObject({ breaker: { state: 'open', failures: 10 } });
    const h2 = harness();
    const send503 = h2.asCalls(createBreakerLayer(h2.context)(status(503)));
    await sendMany(send503, 10, () => attemptFor(A, policy));
    expect(h2.stats('http://a.test:8080')).toMatchObject({
      breaker: { state: 'closed', fires: 10, failures: 0, successes: 10, rejects: 0 },
    });
    await h2.close();
  });

  test('network errors and attempt timeouts count as failures', async () => {
    let i = 0;
    const send = h.asCalls(
      createBreakerLayer(h.context)(() =>
        Promise.reject(i++ % 2 ? new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }) : attemptTimeoutError(50)),
      ),
    );
    const errors = await sendMany(send, 10, () => attemptFor(A));
    expect(errors.slice(0, 2).map((e) => (e as Error).name)).toEqual(['TimeoutError', 'TypeError']);
    expect(h.stats('http://a.test:8080')).toMatchObject({ breaker: { state: 'open', failures: 10 } });
  });

  test("a caller's abort is not a failure, and rejects with the caller's reason", async () => {
    const send = h.asCalls(createBreakerLayer(h.context)((attempt) => Promise.reject(attempt.signal?.reason)));
    const reasons: unknown[] = [];
    for (let i = 0; i < 30; i++) {
      const controller = new AbortController();
      const reason = new Error(`caller gave up ${i}`);
      controller.abort(reason);
      reasons.push(reason);
      await expect(send(attemptFor(A, undefined, controller.signal))).rejects.toBe(reason);
    }
    // Issue 14 item 2: an abort is not counted at all (no fire, no success), so it cannot dilute the error rate.
    expect(h.stats('http://a.test:8080')).toMatchObject({ breaker: { state: 'closed', fires: 0, successes: 0, failures: 0 } });
  });

  test('one origin open changes nothing for another', async () => {
    const next = vi.fn<Send>((attempt) => (attempt.url.hostname === 'a.test' ? status(503)() : status(200)()));
    const send = h.asCalls(createBreakerLayer(h.context)(next));
    await sendMany(send, 10, () => attemptFor(A));
    await expect(send(attemptFor(A))).rejects.toBeInstanceOf(CircuitOpenError);
    const fromB = await sendMany(send, 20, () => attemptFor(B));
    expect(fromB.every((r) => r instanceof Response && r.status === 200)).toBe(true);
    expect(h.stats('http://b.test:8080')).toMatchObject({ breaker: { state: 'closed', successes: 20 } });
    expect(h.stats('http://a.test:8080')).toMatchObject({ breaker: { state: 'open' } });
  });

  test('half-open lets exactly one probe through; its success closes the breaker', async () => {
    let healthy = false;
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const next = vi.fn<Send>(async () => {
      if (!healthy) return status(503)();
      await gate;
      return status(200)();
    });
    const send = h.asCalls(createBreakerLayer(h.context)(next));
    await sendMany(send, 10, () => attemptFor(A));
    await vi.advanceTimersByTimeAsync(999);
    await expect(send(attemptFor(A))).rejects.toBeInstanceOf(CircuitOpenError);
    await vi.advanceTimersByTimeAsync(1);
    expect(h.stats('http://a.test:8080')).toMatchObject({ breaker: { state: 'half-open' } });

    healthy = true;
    const probe = send(attemptFor(A));
    const others = await sendMany(send, 5, () => attemptFor(A));
    expect(others.every((e) => isCircuitOpenError(e) && e.retryAfter === 0)).toBe(true);
    expect(next).toHaveBeenCalledTimes(11);
    release();
    expect((await probe).status).toBe(200);
    expect(breakerEvents(h.events)).toEqual([
      'http://a.test:8080 closed->open',
      'http://a.test:8080 open->half-open',
      'http://a.test:8080 half-open->closed',
    ]);
    const after = await sendMany(send, 3, () => attemptFor(A));
    expect(after.every((r) => r instanceof Response)).toBe(true);
    expect(next).toHaveBeenCalledTimes(14);
  });

  test('a failed probe opens the breaker again for twice as long, up to maxResetTimeout; a good probe resets it', async () => {
    let code = 503;
    const next = vi.fn<Send>(() => status(code)());
    const policy: Policy = { breaker: { ...BREAKER, maxResetTimeout: 5_000 } };
    const send = h.asCalls(createBreakerLayer(h.context)(next));
    await sendMany(send, 10, () => attemptFor(A, policy));
    /** Waits `ms` - 1: still refused; 1 ms more: the probe goes out (and fails while code is 503). */
    const openFor = async (ms: number) => {
      expect(h.stats('http://a.test:8080')).toMatchObject({ breaker: { state: 'open', retryAfter: ms } });
      await vi.advanceTimersByTimeAsync(ms - 1);
      await expect(send(attemptFor(A, policy))).rejects.toBeInstanceOf(CircuitOpenError);
      await vi.advanceTimersByTimeAsync(1);
      const calls = next.mock.calls.length;
      expect(((await send(attemptFor(A, policy))) as Response).status).toBe(code);
      expect(next).toHaveBeenCalledTimes(calls + 1);
    };
    await openFor(1_000);
    await openFor(2_000);
    await openFor(4_000);
    await openFor(5_000); // capped
    code = 200;
    await openFor(5_000); // this probe succeeds: closed
    expect(h.stats('http://a.test:8080')).toMatchObject({ breaker: { state: 'closed' } });
    code = 503;
    // The next outage opens it for resetTimeout again.
    await sendMany(send, 10, () => attemptFor(A, policy));
    await openFor(1_000);
    expect(breakerEvents(h.events).filter((e) => e.endsWith('->open'))).toHaveLength(7);
    expect(h.stats('http://a.test:8080')).toMatchObject({ breaker: { state: 'open', retryAfter: 2_000 } });
  });

  test('a probe that fails opens it for 2 × resetTimeout with the default maxResetTimeout', async () => {
    const next = vi.fn<Send>(status(503));
    const send = h.asCalls(createBreakerLayer(h.context)(next));
    await sendMany(send, 10, () => attemptFor(A));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(((await send(attemptFor(A))) as Response).status).toBe(503);
    expect(next).toHaveBeenCalledTimes(11);
    await vi.advanceTimersByTimeAsync(1_999);
    await expect(send(attemptFor(A))).rejects.toBeInstanceOf(CircuitOpenError);
    await vi.advanceTimersByTimeAsync(1);
    expect(((await send(attemptFor(A))) as Response).status).toBe(503);
    expect(next).toHaveBeenCalledTimes(12);
    expect(breakerEvents(h.events)).toEqual([
      'http://a.test:8080 closed->open',
      'http://a.test:8080 open->half-open',
      'http://a.test:8080 half-open->open',
      'http://a.test:8080 open->half-open',
      'http://a.test:8080 half-open->open',
    ]);
  });

  test('an aborted probe does not close the breaker: it opens again and probes later', async () => {
    let healthy = false;
    const next = vi.fn<Send>((attempt) => (healthy ? Promise.reject(attempt.signal?.reason) : status(503)()));
    const send = h.asCalls(createBreakerLayer(h.context)(next));
    await sendMany(send, 10, () => attemptFor(A));
    await vi.advanceTimersByTimeAsync(1_000);
    healthy = true;
    const controller = new AbortController();
    controller.abort(new Error('caller left'));
    await expect(send(attemptFor(A, undefined, controller.signal))).rejects.toThrow('caller left');
    // It told nothing, so the period does not grow: open for resetTimeout again.
    expect(h.stats('http://a.test:8080')).toMatchObject({ breaker: { state: 'open', retryAfter: 1_000 } });
    await expect(send(attemptFor(A))).rejects.toBeInstanceOf(CircuitOpenError);
    expect(breakerEvents(h.events).at(-1)).toBe('http://a.test:8080 half-open->open');
  });

  test('fallback answers while open, with the request as a global Request, and emits fallback', async () => {
    const seen: Array<{ request: Request; error: Error }> = [];
    const policy: Policy = {
      breaker: {
        ...BREAKER,
        fallback: (request, error) => {
          seen.push({ request, error });
          return new Response('cached', { status: 200 });
        },
      },
    };
    const next = vi.fn<Send>(status(503));
    const send = h.asCalls(createBreakerLayer(h.context)(next));
    const first = await sendMany(send, 10, () => attemptFor(A, policy));
    expect(first.every((r) => r instanceof Response && r.status === 503)).toBe(true);
    expect(seen).toHaveLength(0); // failures before opening are answered by the server
    const res = await send(attemptFor(A, policy));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('cached');
    expect(next).toHaveBeenCalledTimes(10);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.request).toBeInstanceOf(Request);
    expect(seen[0]?.request.url).toBe(A);
    expect(seen[0]?.request.method).toBe('GET');
    expect(seen[0]?.request.headers.get('accept')).toBe('text/plain');
    expect(seen[0]?.error).toBeInstanceOf(CircuitOpenError);
    expect(h.events.filter((e) => e.type === 'fallback')).toEqual([
      { type: 'fallback', host: 'http://a.test:8080', reason: 'ERR_CIRCUIT_OPEN' },
    ]);
  });

  test('breaker: false sends straight through and keeps no breaker', async () => {
    const next = vi.fn<Send>(status(503));
    const send = h.asCalls(createBreakerLayer(h.context)(next));
    await sendMany(send, 30, () => attemptFor(A, { breaker: false }));
    expect(next).toHaveBeenCalledTimes(30);
    expect(h.stats('http://a.test:8080')).toEqual({});
  });

  test('each breaker gets its own opossum options object, with timeout and snapshots off', async () => {
    const fire = vi.spyOn(CircuitBreaker.prototype, 'fire');
    const send = h.asCalls(createBreakerLayer(h.context)(status(200)));
    await send(attemptFor(A));
    await send(attemptFor(B));
    await send(attemptFor(A));
    const breakers = fire.mock.contexts as unknown as Array<CircuitBreaker & { options: Record<string, unknown> }>;
    expect(breakers).toHaveLength(3);
    expect(breakers[0]).toBe(breakers[2]);
    expect(breakers[0]).not.toBe(breakers[1]);
    expect(breakers[0]?.options).not.toBe(breakers[1]?.options);
    expect(breakers[0]?.options).toMatchObject({
      timeout: false,
      enableSnapshots: false,
      volumeThreshold: 10,
      resetTimeout: 1_000,
    });
    expect(breakers.map((b) => b.name)).toEqual(['http://a.test:8080', 'http://b.test:8080', 'http://a.test:8080']);
  });

  test('the registry is bounded: least recently used breakers are shut down', async () => {
    const small = harness(5);
    const shutdown = vi.spyOn(CircuitBreaker.prototype, 'shutdown');
    const send = small.asCalls(createBreakerLayer(small.context)(status(200)));
    for (let i = 0; i < 50; i++) await send(attemptFor(`http://h${i}.test/`));
    expect(shutdown).toHaveBeenCalledTimes(45);
    expect(small.hosts.peek('http://h0.test')).toBeUndefined();
    expect(small.stats('http://h49.test')).toMatchObject({ breaker: { state: 'closed', successes: 1 } });
    await small.close();
    expect(shutdown).toHaveBeenCalledTimes(50);
  });

  test('close() shuts every breaker down; later attempts pass straight through', async () => {
    const shutdown = vi.spyOn(CircuitBreaker.prototype, 'shutdown');
    const next = vi.fn<Send>(status(503));
    const send = h.asCalls(createBreakerLayer(h.context)(next));
    await sendMany(send, 10, () => attemptFor(A));
    await send(attemptFor(B));
    await h.close();
    expect(shutdown).toHaveBeenCalledTimes(2);
    expect(vi.getTimerCount()).toBe(0);
    expect(((await send(attemptFor(A))) as Response).status).toBe(503);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('issue-14: the breaker counts calls, not attempts', () => {
  test('a call whose 503 its retry turned into a 200 is one success; a call with two 503s is one failure', async () => {
    const answers = [503, 200, 503, 503];
    const next = vi.fn<Send>(() => Promise.resolve(new Response(null, { status: answers.shift() ?? 200 })));
    const send = createBreakerLayer(h.context)(next);
    const saved = attemptFor(A);
    await send(saved);
    await send({ ...saved, number: 1 });
    h.endCall(saved.request);
    const lost = attemptFor(A);
    await send(lost);
    await send({ ...lost, number: 1 });
    h.endCall(lost.request);
    await vi.advanceTimersByTimeAsync(0);
    expect(next).toHaveBeenCalledTimes(4);
    expect(h.stats('http://a.test:8080')).toMatchObject({ breaker: { state: 'closed', fires: 2, successes: 1, failures: 1 } });
  });

  test('200 calls that each get a 503 then a 200 never open it (volumeThreshold 10, 50 %)', async () => {
    let n = 0;
    const send = createBreakerLayer(h.context)(() => Promise.resolve(new Response(null, { status: n++ % 2 === 0 ? 503 : 200 })));
    for (let i = 0; i < 200; i++) {
      const first = attemptFor(A);
      await send(first);
      await send({ ...first, number: 1 });
      h.endCall(first.request);
    }
    await vi.advanceTimersByTimeAsync(0);
    expect(breakerEvents(h.events)).toEqual([]);
    expect(h.stats('http://a.test:8080')).toMatchObject({
      breaker: { state: 'closed', fires: 200, successes: 200, failures: 0 },
    });
  });

  test('a hedge branch cut off by the winner is not counted; the winner is', async () => {
    const send = createBreakerLayer(h.context)((attempt) =>
      attempt.branch === 0
        ? new Promise<Response>((_, reject) => attempt.signal?.addEventListener('abort', () => reject(attempt.signal?.reason)))
        : Promise.resolve(new Response('hedge')),
    );
    const call = attemptFor(A);
    const loser = new AbortController();
    const primary = send({ ...call, signal: loser.signal }).catch((e: unknown) => e);
    await send({ ...call, branch: 1 });
    loser.abort(new DOMException('lost', 'AbortError'));
    await primary;
    h.endCall(call.request);
    await vi.advanceTimersByTimeAsync(0);
    expect(h.stats('http://a.test:8080')).toMatchObject({ breaker: { fires: 1, successes: 1, failures: 0 } });
  });
});
