import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { discard, DRAIN_MAX_BYTES, DRAIN_MAX_MS } from '../../../src/internal/discard.js';

/** A body of `chunks` bytes each, that ends after them unless `endless`; records reads and cancel. */
const body = (chunks: number[], options: { endless?: boolean; headers?: Record<string, string> } = {}) => {
  const state = { pulled: 0, cancelled: false, closed: false };
  const queue = [...chunks];
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        const next = queue.shift();
        if (next !== undefined) {
          state.pulled += next;
          controller.enqueue(new Uint8Array(next));
        } else if (!options.endless) {
          state.closed = true;
          controller.close();
        } else return new Promise(() => {}); // never ends
        return undefined;
      },
      cancel() {
        state.cancelled = true;
      },
    },
    { highWaterMark: 0 },
  );
  return { response: new Response(stream, { status: 503, headers: options.headers ?? {} }), state };
};

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('discard', () => {
  beforeEach(() => void vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] }));
  afterEach(() => void vi.useRealTimers());

  test('a small body is read to its end, not cancelled: its connection can go back to the pool', async () => {
    const { response, state } = body([1024, 1024], { headers: { 'content-length': '2048' } });
    discard(response);
    for (let round = 0; round < 10; round++) await settle();
    expect(state).toEqual({ pulled: 2048, cancelled: false, closed: true });
    expect(vi.getTimerCount()).toBe(0);
  });

  test('a body whose content-length exceeds DRAIN_MAX_BYTES is cancelled without a read', async () => {
    const { response, state } = body([1024], { headers: { 'content-length': String(DRAIN_MAX_BYTES + 1) } });
    discard(response);
    await settle();
    expect(state).toMatchObject({ pulled: 0, cancelled: true });
  });

  test('a body of unknown length is cancelled once more than DRAIN_MAX_BYTES were read', async () => {
    const chunk = 16 * 1024;
    const { response, state } = body(Array(10).fill(chunk));
    discard(response);
    for (let round = 0; round < 40; round++) await settle();
    expect(state.cancelled).toBe(true);
    expect(state.pulled).toBeLessThanOrEqual(DRAIN_MAX_BYTES + chunk);
    expect(vi.getTimerCount()).toBe(0);
  });

  test('a body that stalls is cancelled after DRAIN_MAX_MS', async () => {
    const { response, state } = body([10], { endless: true });
    discard(response);
    await settle();
    expect(state.cancelled).toBe(false);
    await vi.advanceTimersByTimeAsync(DRAIN_MAX_MS);
    expect(state.cancelled).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  test('a used, locked or bodiless response is left alone', () => {
    const locked = body([1]);
    locked.response.body?.getReader();
    expect(() => discard(locked.response)).not.toThrow();
    expect(() => discard(new Response(null, { status: 204 }))).not.toThrow();
    expect(locked.state.cancelled).toBe(false);
  });
});
