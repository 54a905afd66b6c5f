import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import type { Attempt, Send } from '../../../src/pipeline/types.js';
import { createTimeoutLayer } from '../../../src/layers/timeout.js';
import { isAttemptTimeout, isTotalTimeout } from '../../../src/errors.js';
import { signalTimeout } from '../../../src/transport/index.js';
import { attemptOf, layerContext, preparedRequest } from '../../support/attempt.js';

const URL_A = 'http://a.test/items';

/** A transport that never answers, and rejects with its signal's reason when that aborts. */
const hanging = () => {
  const seen: Attempt[] = [];
  const send: Send = (attempt) => {
    seen.push(attempt);
    return new Promise((_resolve, reject) => {
      attempt.signal?.addEventListener('abort', () => reject(attempt.signal?.reason), { once: true });
    });
  };
  return { seen, send };
};

/**
 * A request with no call signal whose deadline is `deadlineIn` ms from now, through the layer onto
 * `hanging()`, which (like undici's fetch) can only be stopped through its signal: `signalTimeout`.
 */
const setUp = (timeout: { attempt: number | false; total: number | false }, deadlineIn = Infinity) => {
  const transport = hanging();
  const send = createTimeoutLayer(layerContext().context)(signalTimeout(transport.send));
  const request = preparedRequest(URL_A, { timeout }, { signal: undefined, deadline: performance.now() + deadlineIn });
  return { transport, send, request };
};

describe('timeout layer', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  test('without a call signal, the total timeout ends the attempt at the deadline, branded as total', async () => {
    const { transport, send, request } = setUp({ attempt: 1_000, total: 300 }, 300);
    const result = send(attemptOf(request)).catch((e: unknown) => e);
    expect(transport.seen[0]?.signal).toBeInstanceOf(AbortSignal);
    await vi.advanceTimersByTimeAsync(299);
    expect(transport.seen[0]?.signal?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const error = await result;
    expect(error).toBeInstanceOf(DOMException);
    expect((error as DOMException).name).toBe('TimeoutError');
    expect((error as DOMException).message).toContain('total 300 ms');
    expect(isTotalTimeout(error)).toBe(true);
    expect(isAttemptTimeout(error)).toBe(false);
  });

  test('an attempt timeout shorter than what is left of the total wins, branded as attempt', async () => {
    const { send, request } = setUp({ attempt: 100, total: 300 }, 300);
    const result = send(attemptOf(request)).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(100);
    const error = await result;
    expect(isAttemptTimeout(error)).toBe(true);
    expect(isTotalTimeout(error)).toBe(false);
  });

  test('a later attempt gets only what is left of the total', async () => {
    const { send, request } = setUp({ attempt: 200, total: 300 }, 300);
    await vi.advanceTimersByTimeAsync(250);
    const result = send(attemptOf(request, 1)).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(50);
    expect(isTotalTimeout(await result)).toBe(true);
  });

  test('a deadline already past rejects before sending', async () => {
    const { transport, send, request } = setUp({ attempt: 200, total: 300 }, -1);
    expect(isTotalTimeout(await send(attemptOf(request)).catch((e: unknown) => e))).toBe(true);
    expect(transport.seen).toHaveLength(0);
  });

  test('with both timeouts off, the attempt passes through as it came, signal and all', async () => {
    const { transport, send, request } = setUp({ attempt: false, total: false });
    const attempt = attemptOf(request);
    void send(attempt);
    expect(transport.seen[0]).toBe(attempt);
    expect(transport.seen[0]?.signal).toBeUndefined();
  });

  test('the layer only says how long: Attempt.timeout carries the time left and the branded reason', async () => {
    const seen: Attempt[] = [];
    const send = createTimeoutLayer(layerContext().context)(async (attempt) => {
      seen.push(attempt);
      return new Response('ok');
    });
    const request = preparedRequest(
      URL_A,
      { timeout: { attempt: 200, total: 300 } },
      { signal: undefined, deadline: performance.now() + 300 },
    );
    await send(attemptOf(request));
    expect(seen[0]?.signal).toBeUndefined();
    expect(seen[0]?.timeout?.ms).toBe(200);
    expect(isAttemptTimeout(seen[0]?.timeout?.reason())).toBe(true);
    await vi.advanceTimersByTimeAsync(150);
    await send(attemptOf(request, 1));
    expect(seen[1]?.timeout?.ms).toBeCloseTo(150, 0);
    expect(isTotalTimeout(seen[1]?.timeout?.reason())).toBe(true);
  });

  test('signalTimeout hands the transport a signal of its own, linked to the attempt’s, and no timeout', async () => {
    const transport = hanging();
    const parent = new AbortController();
    const request = preparedRequest(URL_A, {}, { signal: parent.signal });
    const result = signalTimeout(transport.send)({
      ...attemptOf(request),
      timeout: { ms: 1_000, reason: () => new DOMException('late', 'TimeoutError') },
    }).catch((e: unknown) => e);
    const sent = transport.seen[0];
    expect(sent?.timeout).toBeUndefined();
    expect(sent?.signal).not.toBe(parent.signal);
    parent.abort(new Error('caller'));
    expect(await result).toMatchObject({ message: 'caller' });
  });
});
