import { describe, expect, it, vi } from 'vitest';
import { CircuitOpenError, ThrottledError, isThrottledError } from '../../../src/errors.js';
import type { Attempt, Send } from '../../../src/pipeline/types.js';
import { createThrottleLayer } from '../../../src/layers/throttle.js';
import { rejectionProbability, ThrottleState } from '../../../src/policy/throttle.js';
import type { Policy } from '../../../src/options.js';
import { attemptOf, layerContext, preparedRequest } from '../../support/attempt.js';

const ORIGIN = 'http://127.0.0.1:9';

const harness = (random: () => number, policy: Policy = { throttle: { k: 2, window: 60_000, maxProbability: 1 } }) => {
  const { context, events, stats: hostStats } = layerContext();
  const layer = createThrottleLayer(context, random);
  // No signal unless the test gives one, as a call without a caller's signal has.
  const attempt = (signal?: AbortSignal): Attempt => attemptOf(preparedRequest(`${ORIGIN}/x`, policy, { signal }));
  const stats = () => hostStats(ORIGIN);
  return { layer, attempt, events, stats };
};

const respond =
  (status: number): Send =>
  async () =>
    new Response(null, { status });

describe('rejectionProbability (SRE book, K = 2)', () => {
  it('is 0 while accepts keep up with requests / k', () => {
    expect(rejectionProbability(0, 0, 2)).toBe(0);
    expect(rejectionProbability(100, 50, 2)).toBe(0);
    expect(rejectionProbability(100, 100, 2)).toBe(0);
  });

  it('follows (requests − k·accepts) / (requests + 1)', () => {
    expect(rejectionProbability(100, 0, 2)).toBeCloseTo(100 / 101);
    expect(rejectionProbability(100, 25, 2)).toBeCloseTo(50 / 101);
    expect(rejectionProbability(9, 3, 1.5)).toBeCloseTo(4.5 / 10);
  });

  it('is capped at maxProbability', () => {
    expect(rejectionProbability(100, 0, 2, 0.9)).toBe(0.9);
    expect(rejectionProbability(100, 25, 2, 0.9)).toBeCloseTo(50 / 101);
  });
});

describe('ThrottleState', () => {
  it('forgets its counts after the window', () => {
    let now = 0;
    const state = new ThrottleState({ k: 2, window: 1_000, maxProbability: 1 }, () => now);
    for (let i = 0; i < 10; i++) state.record(false);
    expect(state.probability()).toBeCloseTo(10 / 11);
    now = 1_000;
    expect(state.probability()).toBe(0);
    expect(state.snapshot()).toEqual({ requests: 0, accepts: 0, probability: 0, rejected: 0 });
  });
});

describe('throttle layer', () => {
  it('passes everything through while the host accepts', async () => {
    const { layer, attempt, events } = harness(() => 0);
    const send = layer(respond(200));
    for (let i = 0; i < 50; i++) expect((await send(attempt())).status).toBe(200);
    expect(events).toEqual([]);
  });

  it('rejects locally with ThrottledError and the SRE probability once the host refuses', async () => {
    const next = vi.fn(respond(503));
    const draws = [0.99, 0.99, 0.5]; // two draws above p pass, the third is below it
    const { layer, attempt, events, stats } = harness(() => draws.shift() ?? 0.99);
    const send = layer(next);
    expect((await send(attempt())).status).toBe(503); // p = 0: no draw
    expect((await send(attempt())).status).toBe(503); // p = 1/2
    expect((await send(attempt())).status).toBe(503); // p = 2/3
    const error = await send(attempt()).catch((e: unknown) => e); // p = 3/4, draw 0.5
    expect(error).toBeInstanceOf(ThrottledError);
    expect(isThrottledError(error)).toBe(true);
    expect((error as ThrottledError).probability).toBeCloseTo(3 / 4);
    expect((error as ThrottledError).host).toBe('http://127.0.0.1:9');
    expect(next).toHaveBeenCalledTimes(3);
    expect(events).toEqual([{ type: 'throttle', host: ORIGIN, probability: 3 / 4 }]);
    expect(stats()).toMatchObject({ throttle: { requests: 4, accepts: 0, probability: 0.8, rejected: 1 } });
  });

  it('counts 429, 502, 503, 504 and network errors as refusals, and 500 or 404 as accepts', async () => {
    const { layer, attempt, stats } = harness(() => 1);
    for (const status of [429, 502, 503, 504, 500, 404, 200]) await layer(respond(status))(attempt());
    await layer(async () => {
      throw new TypeError('fetch failed');
    })(attempt()).catch(() => {});
    expect(stats()).toMatchObject({ throttle: { requests: 8, accepts: 3 } });
  });

  it('does not count an open breaker or an attempt aborted from above', async () => {
    const { layer, attempt, stats } = harness(() => 1);
    await layer(async () => {
      throw new CircuitOpenError('127.0.0.1:9', 1_000);
    })(attempt()).catch(() => {});
    const controller = new AbortController();
    controller.abort(new Error('caller gave up'));
    await layer(async () => {
      throw controller.signal.reason;
    })(attempt(controller.signal)).catch(() => {});
    expect(stats()).toMatchObject({ throttle: { requests: 0, accepts: 0, rejected: 0 } });
  });

  it('keeps its counts per origin', async () => {
    const { layer, attempt } = harness(() => 0); // every draw below p rejects
    const send = layer(respond(503));
    await send(attempt());
    await expect(send(attempt())).rejects.toBeInstanceOf(ThrottledError);
    const other = attempt();
    const url = new URL('http://127.0.0.1:10/x');
    expect((await send({ ...other, url })).status).toBe(503); // a fresh origin starts at p = 0
  });

  it('the default cap of 0.9 lets a tenth of the calls through to a host that refuses everything', async () => {
    let seed = 7;
    const random = () => (seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647;
    const next = vi.fn(respond(503));
    const { layer, attempt, stats } = harness(random, { throttle: { k: 2 } });
    const send = layer(next);
    for (let i = 0; i < 1_000; i++) await send(attempt()).catch(() => {});
    // Expected about 100 (10 % of 1,000, plus the first few before p reaches the cap).
    expect(next.mock.calls.length).toBeGreaterThan(60);
    expect(next.mock.calls.length).toBeLessThan(150);
    expect(stats()).toMatchObject({ throttle: { probability: 0.9, requests: 1_000 } });
  });

  it('is a pass-through when throttle is off, and keeps no state', async () => {
    const next = vi.fn(respond(503));
    const { layer, attempt, stats } = harness(() => 0, { throttle: false });
    for (let i = 0; i < 20; i++) await layer(next)(attempt());
    expect(next).toHaveBeenCalledTimes(20);
    expect(stats()).toEqual({});
  });

  it('with every response refused, almost every call is rejected locally (deterministic draws)', async () => {
    let seed = 42;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const next = vi.fn(respond(503));
    const { layer, attempt } = harness(random);
    const send = layer(next);
    let throttled = 0;
    for (let i = 0; i < 1_000; i++) {
      await send(attempt()).catch((error: unknown) => {
        if (isThrottledError(error)) throttled++;
      });
    }
    // With no accepts, p = n / (n + 1): the expected number of sends is the harmonic number H(1000) ≈ 7.5.
    expect(next.mock.calls.length).toBeLessThan(40);
    expect(throttled).toBe(1_000 - next.mock.calls.length);
  });
});
