import { describe, expect, test, vi } from 'vitest';
import type { ResilientEvent } from '../../../src/diagnostics.js';
import { CircuitOpenError, isCircuitOpenError } from '../../../src/errors.js';
import type { Attempt, LayerContext, Send } from '../../../src/pipeline/types.js';
import { createUpstreamLayer, rewriteOrigin } from '../../../src/layers/upstream.js';
import type { Policy } from '../../../src/options.js';
import { attemptOf, layerContext, preparedRequest } from '../../support/attempt.js';

const UPSTREAMS = ['http://10.0.0.1:8080', 'http://10.0.0.2:8080', 'http://10.0.0.3:8080'];

/** A context whose `open` origins' breakers refuse calls (origin → milliseconds until a probe). */
const contextWith = (open?: Record<string, number>, events: ResilientEvent[] = []): LayerContext => {
  const { context, events: seen } = layerContext({ ...(open && { open }) });
  return { ...context, emit: (event) => void (events.push(event), seen.push(event)) };
};

const callFor = (url: string, policy: Policy = { upstreams: UPSTREAMS, balance: 'round-robin' }) => {
  const first: Attempt = attemptOf(preparedRequest(url, policy));
  return { first, retry: (number: number, branch = 0): Attempt => ({ ...first, number, branch }) };
};

/** A `next` that answers 200 and records where each attempt went. */
const recorder = () => {
  const sent: string[] = [];
  const next = vi.fn<Send>((attempt) => {
    sent.push(attempt.url.href);
    return Promise.resolve(new Response('ok'));
  });
  return { sent, next };
};

describe('upstream layer', () => {
  test('rewrites the origin and keeps path and query', () => {
    expect(rewriteOrigin(new URL('http://orders.svc:8080/a/b?c=1&d=%20'), 'http://10.0.0.2:9000').href).toBe(
      'http://10.0.0.2:9000/a/b?c=1&d=%20',
    );
    expect(rewriteOrigin(new URL('http://orders.svc//x?y'), 'https://10.0.0.2').href).toBe('https://10.0.0.2//x?y');
  });

  test('successive calls go round robin over the upstreams', async () => {
    const { sent, next } = recorder();
    const send = createUpstreamLayer(contextWith())(next);
    for (let i = 0; i < 6; i++) await send(callFor('http://orders.svc:8080/items?page=2').first);
    expect(sent).toEqual([
      'http://10.0.0.1:8080/items?page=2',
      'http://10.0.0.2:8080/items?page=2',
      'http://10.0.0.3:8080/items?page=2',
      'http://10.0.0.1:8080/items?page=2',
      'http://10.0.0.2:8080/items?page=2',
      'http://10.0.0.3:8080/items?page=2',
    ]);
  });

  test('retries and hedges of one call go to an upstream it has not tried yet; once all are tried, round again', async () => {
    const { sent, next } = recorder();
    const send = createUpstreamLayer(contextWith())(next);
    await send(callFor('http://orders.svc:8080/').first); // the rotation now starts this host's next call at 10.0.0.2
    const call = callFor('http://orders.svc:8080/');
    await send(call.first);
    await send(call.retry(1));
    await send(call.retry(2));
    await send(call.retry(0, 1));
    expect(sent.slice(1)).toEqual([
      'http://10.0.0.2:8080/',
      'http://10.0.0.3:8080/',
      'http://10.0.0.1:8080/',
      'http://10.0.0.2:8080/',
    ]);
  });

  test('each caller host has its own rotation', async () => {
    const { sent, next } = recorder();
    const send = createUpstreamLayer(contextWith())(next);
    await send(callFor('http://a.svc/').first);
    await send(callFor('http://b.svc/').first);
    await send(callFor('http://a.svc/').first);
    expect(sent).toEqual(['http://10.0.0.1:8080/', 'http://10.0.0.1:8080/', 'http://10.0.0.2:8080/']);
  });

  test('upstreams whose breaker refuses calls are skipped', async () => {
    const { sent, next } = recorder();
    const send = createUpstreamLayer(contextWith({ 'http://10.0.0.1:8080': 0, 'http://10.0.0.2:8080': 0 }))(next);
    for (let i = 0; i < 3; i++) await send(callFor('http://orders.svc:8080/').first);
    expect(sent).toEqual(['http://10.0.0.3:8080/', 'http://10.0.0.3:8080/', 'http://10.0.0.3:8080/']);
  });

  test('a CircuitOpenError from below fails over to the next upstream within the same attempt', async () => {
    const sent: string[] = [];
    const next = vi.fn<Send>((attempt) => {
      sent.push(attempt.url.origin);
      if (attempt.url.origin === 'http://10.0.0.1:8080') return Promise.reject(new CircuitOpenError('10.0.0.1:8080', 500));
      return Promise.resolve(new Response('ok'));
    });
    const send = createUpstreamLayer(contextWith())(next);
    const res = await send(callFor('http://orders.svc:8080/').first);
    expect(res.status).toBe(200);
    expect(sent).toEqual(['http://10.0.0.1:8080', 'http://10.0.0.2:8080']);
  });

  test('other errors are not failed over here (the retry layer decides)', async () => {
    const error = new TypeError('fetch failed');
    const next = vi.fn<Send>(() => Promise.reject(error));
    const send = createUpstreamLayer(contextWith())(next);
    await expect(send(callFor('http://orders.svc:8080/').first)).rejects.toBe(error);
    expect(next).toHaveBeenCalledTimes(1);
  });

  test('all upstreams open: CircuitOpenError for the caller host, with the soonest probe time, next never called', async () => {
    const { next } = recorder();
    const wait: Record<string, number> = {
      'http://10.0.0.1:8080': 900,
      'http://10.0.0.2:8080': 300,
      'http://10.0.0.3:8080': 600,
    };
    const send = createUpstreamLayer(contextWith(wait))(next);
    const error = await send(callFor('http://orders.svc:8080/').first).catch((e: unknown) => e);
    expect(isCircuitOpenError(error)).toBe(true);
    expect((error as CircuitOpenError).host).toBe('http://orders.svc:8080');
    expect((error as CircuitOpenError).retryAfter).toBe(300);
    expect(next).not.toHaveBeenCalled();
  });

  test('all upstreams open with a fallback: the fallback answers and a fallback event is emitted', async () => {
    const { next } = recorder();
    const events: ResilientEvent[] = [];
    const fallback = vi.fn((_request: Request, _error: Error) => new Response('stale', { status: 200 }));
    const send = createUpstreamLayer(contextWith(Object.fromEntries(UPSTREAMS.map((o) => [o, 100])), events))(next);
    const res = await send(callFor('http://orders.svc:8080/x', { upstreams: UPSTREAMS, breaker: { fallback } }).first);
    expect(await res.text()).toBe('stale');
    expect(fallback.mock.calls[0]?.[0].url).toBe('http://orders.svc:8080/x');
    expect(isCircuitOpenError(fallback.mock.calls[0]?.[1])).toBe(true);
    expect(events).toEqual([{ type: 'fallback', host: 'http://orders.svc:8080', reason: 'ERR_CIRCUIT_OPEN' }]);
  });

  test('without upstreams the attempt passes through unchanged', async () => {
    const next = vi.fn<Send>(() => Promise.resolve(new Response('ok')));
    const send = createUpstreamLayer(contextWith({ 'http://plain.example': 0 }))(next);
    const { first } = callFor('http://plain.example/p', {});
    await send(first);
    expect(next).toHaveBeenCalledWith(first);
  });
});

describe('issue-14: upstreams like a load balancer', () => {
  const refusedError = () =>
    Object.assign(new TypeError('fetch failed'), {
      cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    });

  test('least-request: of two upstreams drawn, the one with fewer requests in flight gets the call', async () => {
    const pending: Array<() => void> = [];
    const sent: string[] = [];
    const next = vi.fn<Send>(
      (attempt) =>
        new Promise((resolve) => {
          sent.push(attempt.url.origin);
          pending.push(() => resolve(new Response('ok')));
        }),
    );
    // Draws: first index 0, second index 0 (-> 1 after skipping the first): always 10.0.0.1 vs 10.0.0.2.
    const { context } = layerContext();
    const send = createUpstreamLayer(context, () => 0)(next);
    const policy: Policy = { upstreams: UPSTREAMS };
    const calls = [send(callFor('http://orders.svc/', policy).first), send(callFor('http://orders.svc/', policy).first)];
    // The first went to .1 (a tie keeps the first drawn); .1 now has one in flight, so the second goes to .2.
    expect(sent).toEqual(['http://10.0.0.1:8080', 'http://10.0.0.2:8080']);
    for (const release of pending) release();
    await Promise.all(calls);
    expect(context.hosts.peek('http://10.0.0.1:8080')?.inFlight).toBe(0);
  });

  test('a refused connection ejects the upstream at once: later calls skip it, and an ejection event says so', async () => {
    const events: ResilientEvent[] = [];
    const sent: string[] = [];
    const next = vi.fn<Send>(async (attempt) => {
      sent.push(attempt.url.origin);
      if (attempt.url.origin === 'http://10.0.0.1:8080') throw refusedError();
      return new Response('ok');
    });
    const context = contextWith(undefined, events);
    const send = createUpstreamLayer(context)(next);
    const policy: Policy = { upstreams: UPSTREAMS, balance: 'round-robin' };
    await expect(send(callFor('http://orders.svc/', policy).first)).rejects.toThrow('fetch failed');
    for (let i = 0; i < 9; i++) await send(callFor('http://orders.svc/', policy).first);
    expect(sent.filter((o) => o === 'http://10.0.0.1:8080')).toHaveLength(1);
    expect(events).toEqual([
      {
        type: 'ejection',
        host: 'http://10.0.0.1:8080',
        logicalHost: 'http://orders.svc',
        duration: 1_000,
        ejections: 1,
        reason: 'refused',
      },
    ]);
    expect(context.hosts.peek('http://10.0.0.1:8080')?.snapshot()).toMatchObject({ outlier: { ejected: true, ejections: 1 } });
  });

  test('five failures in a row eject; a success in between resets the count; a repeat ejection lasts longer', async () => {
    const answers = [503, 503, 503, 503, 200, 503, 503, 503, 503];
    const next = vi.fn<Send>(async () => new Response(null, { status: answers.shift() ?? 503 }));
    const events: ResilientEvent[] = [];
    // .2's breaker is open, so every attempt goes to .1.
    const context = contextWith({ 'http://10.0.0.2:8080': 60_000 }, events);
    const send = createUpstreamLayer(context)(next);
    const policy: Policy = { upstreams: ['http://10.0.0.1:8080', 'http://10.0.0.2:8080'] };
    const outlier = () => context.hosts.peek('http://10.0.0.1:8080')?.outlier;
    for (let i = 0; i < 8; i++) await send(callFor('http://svc.test/', policy).first);
    expect(outlier()?.consecutive).toBe(3); // four 503s, a 200, three 503s
    expect(outlier()?.ejected()).toBe(false);
    await send(callFor('http://svc.test/', policy).first); // the fourth 503 in a row
    expect(outlier()?.ejected()).toBe(false);
    await send(callFor('http://svc.test/', policy).first); // the fifth
    expect(outlier()?.ejected()).toBe(true);
    expect(events.filter((e) => e.type === 'ejection')).toMatchObject([{ duration: 1_000, reason: 'consecutive failures' }]);
    // The second ejection of the same upstream lasts twice as long.
    vi.useFakeTimers();
    try {
      vi.advanceTimersByTime(1_000);
      const outlierState = outlier()!;
      expect(
        outlierState.eject({ consecutiveFailures: 5, baseEjectionTime: 1_000, maxEjectionTime: 60_000, maxEjectionPercent: 50 }),
      ).toBe(2_000);
    } finally {
      vi.useRealTimers();
    }
  });

  test('at most maxEjectionPercent of the upstreams are out at once, and never all', async () => {
    const next = vi.fn<Send>(async () => {
      throw refusedError();
    });
    const events: ResilientEvent[] = [];
    const send = createUpstreamLayer(contextWith(undefined, events))(next);
    const policy: Policy = { upstreams: UPSTREAMS, balance: 'round-robin' };
    for (let i = 0; i < 6; i++) await send(callFor('http://orders.svc/', policy).first).catch(() => {});
    // 3 upstreams, 50 %: one ejected at a time; the other two keep taking attempts.
    expect(events.filter((e) => e.type === 'ejection')).toHaveLength(1);
    const twoOfTwo = createUpstreamLayer(contextWith(undefined, events))(next);
    events.length = 0;
    for (let i = 0; i < 6; i++)
      await twoOfTwo(callFor('http://x.svc/', { upstreams: UPSTREAMS.slice(0, 1), balance: 'round-robin' }).first).catch(
        () => {},
      );
    expect(events).toHaveLength(0); // a single upstream is never ejected
  });

  test('an upstream paused by its Retry-After is avoided while another is free', async () => {
    const sent: string[] = [];
    const next = vi.fn<Send>(async (attempt) => {
      sent.push(attempt.url.origin);
      return new Response('ok');
    });
    const context = contextWith();
    context.hosts
      .get('http://10.0.0.1:8080')
      .pushback.observe(new Response(null, { status: 503, headers: { 'retry-after': '3' } }), 30_000);
    const send = createUpstreamLayer(context)(next);
    for (let i = 0; i < 6; i++) await send(callFor('http://orders.svc/', { upstreams: UPSTREAMS }).first);
    expect(sent).not.toContain('http://10.0.0.1:8080');
  });
});
