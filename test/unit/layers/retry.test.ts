import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createFetch, type ResilientEvent } from '../../../src/index.js';
import { DRAIN_MAX_BYTES } from '../../../src/internal/discard.js';

const scripted = (...statuses: number[]) => {
  const calls: string[] = [];
  const fetch = vi.fn(async (input: string | URL | Request) => {
    calls.push(String(input));
    const status = statuses[Math.min(calls.length - 1, statuses.length - 1)] ?? 200;
    return new Response(`answer ${calls.length}`, { status });
  });
  return { fetch, calls };
};

describe('retry layer (fake timers, stub transport)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('sleeps the exponential full-jitter delays between attempts', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const { fetch, calls } = scripted(503, 503, 503, 200);
    const events: ResilientEvent[] = [];
    const client = createFetch({ fetch, defaults: { retry: { limit: 3 } }, onEvent: (e) => events.push(e) });
    const pending = client('http://a.test/');
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(49);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(300);
    const res = await pending;
    expect(res.status).toBe(200);
    expect(events.filter((e) => e.type === 'retry').map((e) => 'delay' in e && e.delay)).toEqual([50, 100, 200]);
    await client.close();
  });

  it('a Retry-After above maxRetryAfter ends retrying with the response', async () => {
    const fetch = vi.fn(async () => new Response('later', { status: 503, headers: { 'retry-after': '60' } }));
    const events: ResilientEvent[] = [];
    const client = createFetch({ fetch, defaults: { retry: { maxRetryAfter: 5_000 } }, onEvent: (e) => events.push(e) });
    const res = await client('http://a.test/');
    expect(res.status).toBe(503);
    expect(await res.text()).toBe('later');
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(events).toContainEqual(expect.objectContaining({ type: 'give-up', why: expect.stringContaining('maxRetryAfter') }));
    await client.close();
  });

  it('does not sleep past the total deadline: the last response comes back instead', async () => {
    const fetch = vi.fn(async () => new Response(null, { status: 503, headers: { 'retry-after': '20' } }));
    const client = createFetch({ fetch, defaults: { timeout: { total: 10_000 } } });
    const res = await client('http://a.test/');
    expect(res.status).toBe(503);
    expect(fetch).toHaveBeenCalledTimes(1);
    await client.close();
  });

  it('the transport gets a URL string and a fresh copy of the body on each attempt', async () => {
    const seen: Array<{ url: unknown; body: unknown }> = [];
    const fetch = vi.fn(async (input: unknown, init?: RequestInit) => {
      seen.push({ url: input, body: init?.body });
      return new Response(null, { status: seen.length < 2 ? 503 : 200 });
    });
    const client = createFetch({ fetch, defaults: { retry: { backoff: () => 0 } } });
    await client('http://a.test/p?q=1', { method: 'PUT', body: new Uint8Array([1, 2, 3]) });
    expect(seen.map((s) => s.url)).toEqual(['http://a.test/p?q=1', 'http://a.test/p?q=1']);
    expect(seen[0]?.body).not.toBe(seen[1]?.body);
    expect([...(seen[1]?.body as Uint8Array)]).toEqual([1, 2, 3]);
    await client.close();
  });

  it('discarded responses larger than DRAIN_MAX_BYTES have their bodies cancelled', async () => {
    const cancelled: number[] = [];
    let n = 0;
    const fetch = vi.fn(async () => {
      const index = n++;
      const body = new ReadableStream({ cancel: () => void cancelled.push(index) });
      return new Response(body, { status: index < 2 ? 503 : 200, headers: { 'content-length': String(DRAIN_MAX_BYTES + 1) } });
    });
    const client = createFetch({ fetch, defaults: { retry: { backoff: () => 0 } } });
    const res = await client('http://a.test/');
    expect(res.status).toBe(200);
    await vi.advanceTimersByTimeAsync(0);
    expect(cancelled).toEqual([0, 1]);
    await client.close();
  });

  it('has the signature of fetch', () => {
    const client = createFetch({ fetch: async () => new Response() });
    expect(client.length).toBe(1);
    expect(typeof client.stats).toBe('function');
    void client.close();
  });
});

describe('issue-15: what an injected fetch throws is retried only when it is a network failure', () => {
  const code = (name: string) => Object.assign(new Error(name), { code: name });
  const network: Array<[string, () => unknown]> = [
    [
      "fetch's TypeError('fetch failed') with an ECONNRESET cause",
      () => new TypeError('fetch failed', { cause: code('ECONNRESET') }),
    ],
    [
      "fetch's TypeError('fetch failed') with an UND_ERR_SOCKET cause",
      () => new TypeError('fetch failed', { cause: code('UND_ERR_SOCKET') }),
    ],
    [
      "msw's HttpResponse.error(): TypeError('Failed to fetch')",
      () => Object.assign(new TypeError('Failed to fetch'), { cause: Response.error() }),
    ],
  ];
  const other: Array<[string, () => unknown]> = [
    ['a programming error (Cannot read properties of undefined)', () => (undefined as unknown as { x: { y: number } }).x.y],
    [
      "fetch's redirect loop: TypeError('fetch failed') caused by 'redirect count exceeded'",
      () => new TypeError('fetch failed', { cause: new Error('redirect count exceeded') }),
    ],
    [
      "fetch's unsupported method: TypeError(\"'TRACE' HTTP method is unsupported.\")",
      () => new TypeError("'TRACE' HTTP method is unsupported."),
    ],
    ['a TypeError with no message', () => new TypeError()],
  ];
  const run = async (fail: () => unknown) => {
    const fetch = vi.fn(async () => {
      throw fail();
    });
    const client = createFetch({ fetch, defaults: { retry: { backoff: () => 0 }, breaker: { volumeThreshold: 100 } } });
    const error = await client('http://a.test/').catch((e: unknown) => e);
    const breaker = (client.stats().hosts['http://a.test'] as unknown as { breaker: { fires: number; failures: number } })
      .breaker;
    await client.close();
    return { error, calls: fetch.mock.calls.length, breaker };
  };

  for (const [name, fail] of network) {
    it(`issue-15: ${name} is retried and counted by the breaker`, async () => {
      const { error, calls, breaker } = await run(fail);
      expect(error).toBeInstanceOf(TypeError);
      expect(calls).toBe(3);
      // One call, one outcome: the breaker counts calls (issue 14).
      expect(breaker).toMatchObject({ fires: 1, failures: 1 });
    });
  }
  for (const [name, fail] of other) {
    it(`issue-15: ${name} is thrown after one call, not retried, and is no breaker failure`, async () => {
      const { error, calls, breaker } = await run(fail);
      expect(error).toBeInstanceOf(TypeError);
      expect(calls).toBe(1);
      // Not the host's doing: not counted at all (issue 14), neither failure nor success.
      expect(breaker).toMatchObject({ fires: 0, failures: 0 });
    });
  }
});

describe('issue-15: a throwing hook still releases the discarded response', () => {
  // Larger than what a discard drains, so releasing it means cancelling it.
  const tracked = (status: number) => {
    const state = { cancelled: false };
    const response = new Response(new ReadableStream({ cancel: () => void (state.cancelled = true) }), {
      status,
      headers: { 'content-length': String(DRAIN_MAX_BYTES + 1) },
    });
    return { response, state };
  };

  /** One call whose 503 meets a throwing retry hook: it must reject with the hook's error, sent once, its body released. */
  const expectReleasedAfterThrow = async (thrown: Error, retry: Record<string, unknown>) => {
    const answer = tracked(503);
    const fetch = vi.fn(async () => answer.response);
    const client = createFetch({ fetch, defaults: { retry } });
    await expect(client('http://a.test/')).rejects.toBe(thrown);
    await new Promise((resolve) => setImmediate(resolve));
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(answer.state.cancelled).toBe(true);
    await client.close();
  };

  it('issue-15: a shouldRetry that throws rejects with its error and cancels the body of the response it was judging', async () => {
    const thrown = new Error('hook bug');
    await expectReleasedAfterThrow(thrown, {
      backoff: () => 0,
      shouldRetry: () => {
        throw thrown;
      },
    });
  });

  it('issue-15: a backoff function that throws rejects with its error and cancels the body of the retried response', async () => {
    const thrown = new Error('backoff bug');
    await expectReleasedAfterThrow(thrown, {
      backoff: () => {
        throw thrown;
      },
    });
  });
});
