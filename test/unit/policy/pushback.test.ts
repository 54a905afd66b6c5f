import { describe, expect, it } from 'vitest';
import { Pushback } from '../../../src/policy/pushback.js';

const answer = (status: number, retryAfter?: string) =>
  new Response(null, { status, ...(retryAfter !== undefined && { headers: { 'retry-after': retryAfter } }) });

const setup = () => {
  let now = 1_000;
  const pushback = new Pushback(() => now);
  return { pushback, advance: (ms: number) => void (now += ms) };
};

describe('Pushback (one origin)', () => {
  it('a 503 or 429 with Retry-After pauses retries until then', () => {
    const { pushback, advance } = setup();
    expect(pushback.observe(answer(503, '2'), 30_000)).toBe(2_000);
    expect(pushback.remaining()).toBe(2_000);
    advance(1_500);
    expect(pushback.describe()).toEqual({ pausedFor: 500, status: 503 });
    advance(500);
    expect(pushback.remaining()).toBe(0);
    expect(pushback.observe(answer(429, '1'), 30_000)).toBe(1_000);
    expect(pushback.describe()).toEqual({ pausedFor: 1_000, status: 429 });
  });

  it('ignores other statuses, a missing, malformed or zero Retry-After', () => {
    const { pushback } = setup();
    expect(pushback.observe(answer(500, '5'), 30_000)).toBeUndefined();
    expect(pushback.observe(answer(502, '5'), 30_000)).toBeUndefined();
    expect(pushback.observe(answer(503), 30_000)).toBeUndefined();
    expect(pushback.observe(answer(503, 'soon'), 30_000)).toBeUndefined();
    expect(pushback.observe(answer(503, '0'), 30_000)).toBeUndefined();
    expect(pushback.remaining()).toBe(0);
    expect(pushback.describe()).toBeUndefined();
  });

  it('caps a pause at maxRetryAfter', () => {
    const { pushback } = setup();
    expect(pushback.observe(answer(503, '3600'), 5_000)).toBe(5_000);
    expect(pushback.remaining()).toBe(5_000);
  });

  it('only ever extends a pause, never shortens it', () => {
    const { pushback, advance } = setup();
    pushback.observe(answer(503, '10'), 30_000);
    advance(1_000);
    expect(pushback.observe(answer(429, '2'), 30_000)).toBeUndefined();
    expect(pushback.describe()).toEqual({ pausedFor: 9_000, status: 503 });
    expect(pushback.observe(answer(429, '20'), 30_000)).toBe(20_000);
    expect(pushback.describe()).toEqual({ pausedFor: 20_000, status: 429 });
  });
});
