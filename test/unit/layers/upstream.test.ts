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

const callFor = (url: string, policy: Policy = { upstreams: UPSTREAMS }) => {
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

  test('retries and hedges of one call move to the next upstream', async () => {
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
      'http://10.0.0.3:8080/',
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
