import { describe, expect, onTestFinished, vi } from 'vitest';
import { createFetch } from '../../src/index.js';
import type { ResilientEvent } from '../../src/index.js';
import { eventually, fakeTimeouts, refusedPort, sleep, test } from '../support/server.js';
import { client } from '../support/client.js';

/** Tracks how a call settled, so a test can count the settled ones at a moment of its choosing. */
const track = <T>(promise: Promise<T>) => {
  const state: { settled: boolean; value?: T; error?: unknown } = { settled: false };
  promise.then(
    (value) => Object.assign(state, { settled: true, value }),
    (error: unknown) => Object.assign(state, { settled: true, error }),
  );
  return state;
};

/** A promise the test resolves itself (Node 20 has no Promise.withResolvers). */
const signalled = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};

/** Lets pending I/O callbacks and the promise jobs they start run once. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

const failTwiceThen200 =
  (status = 503) =>
  (_req: unknown, res: import('node:http').ServerResponse, _d: unknown, i: number) => {
    if (i < 2) {
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(`fail ${i}`);
    } else res.end('ok');
  };

describe('retry against a real server', () => {
  test('503, 503, 200: one call, three deliveries, 200 returned', async ({ server }) => {
    server.handle(failTwiceThen200());
    const res = await client()(server.url);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok');
    expect(server.deliveries).toHaveLength(3);
  });

  test('POST with Idempotency-Key is retried with three byte-identical deliveries', async ({ server }) => {
    server.handle(failTwiceThen200());
    const body = JSON.stringify({ order: 42, items: ['a', 'b'] });
    const res = await client()(server.url, { method: 'POST', body, headers: { 'Idempotency-Key': 'k-1' } });
    expect(res.status).toBe(200);
    expect(server.deliveries).toHaveLength(3);
    expect(new Set(server.deliveries.map((d) => d.sha256)).size).toBe(1);
    expect(server.deliveries[0]?.body.toString()).toBe(body);
  });

  test('POST without Idempotency-Key: one delivery, the 503 returned with its body', async ({ server }) => {
    server.handle(failTwiceThen200());
    const res = await client()(server.url, { method: 'POST', body: 'x' });
    expect(res.status).toBe(503);
    expect(await res.text()).toBe('fail 0');
    expect(server.deliveries).toHaveLength(1);
  });

  test('the method list can opt POST in', async ({ server }) => {
    server.handle(failTwiceThen200());
    const fetch = client({ defaults: { retry: { methods: ['GET', 'POST'] } } });
    const res = await fetch(server.url, { method: 'POST', body: 'x' });
    expect(res.status).toBe(200);
    expect(server.deliveries).toHaveLength(3);
  });

  test('retries exhausted: the last response comes back with its body intact', async ({ server }) => {
    server.handle((_req, res, _d, i) => {
      res.writeHead(502);
      res.end(`bad gateway ${i}`);
    });
    const res = await client()(server.url);
    expect(res.status).toBe(502);
    expect(await res.text()).toBe('bad gateway 2');
    expect(server.deliveries).toHaveLength(3);
  });

  test.for([400, 401, 403, 404, 409, 422])('status %i is never retried', async (status, { server }) => {
    server.handle((_req, res) => {
      res.writeHead(status);
      res.end('no');
    });
    const res = await client()(server.url);
    expect(res.status).toBe(status);
    expect(server.deliveries).toHaveLength(1);
  });

  test('429 with Retry-After: 1 waits about a second, then succeeds', async ({ server }) => {
    server.handle((_req, res, _d, i) => {
      if (i === 0) {
        res.writeHead(429, { 'retry-after': '1' });
        res.end();
      } else res.end('ok');
    });
    const events: ResilientEvent[] = [];
    const fetch = client({ onEvent: (e) => events.push(e) });
    fakeTimeouts();
    const call = track(fetch(server.url));
    expect(await eventually(() => events.some((e) => e.type === 'retry'))).toBe(true);
    expect(events.find((e) => e.type === 'retry')).toMatchObject({ delay: 1000, reason: 'status 429' });
    await vi.advanceTimersByTimeAsync(999);
    await turn();
    expect(server.deliveries).toHaveLength(1); // still waiting out the second
    expect(call.settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await eventually(() => call.settled)).toBe(true);
    expect((call.value as Response).status).toBe(200);
    expect(server.deliveries).toHaveLength(2);
  });

  test('Retry-After as an HTTP date is honoured', async ({ server }) => {
    server.handle((_req, res, _d, i) => {
      if (i === 0) {
        res.writeHead(503, { 'retry-after': new Date(Date.now() + 2_000).toUTCString() });
        res.end();
      } else res.end('ok');
    });
    const events: ResilientEvent[] = [];
    const fetch = client({ onEvent: (e) => events.push(e) });
    // Date is faked too and stands still on a whole second, so the date two seconds ahead is exact.
    fakeTimeouts({ date: true, now: Date.UTC(2026, 10, 23, 12, 0, 0) });
    const call = track(fetch(server.url));
    expect(await eventually(() => events.some((e) => e.type === 'retry'))).toBe(true);
    expect(events.find((e) => e.type === 'retry')).toMatchObject({ delay: 2_000, reason: 'status 503' });
    await vi.advanceTimersByTimeAsync(1_999);
    await turn();
    expect(server.deliveries).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(await eventually(() => call.settled)).toBe(true);
    expect((call.value as Response).status).toBe(200);
    expect(server.deliveries).toHaveLength(2);
  });

  test('Retry-After: 3600 above maxRetryAfter returns the 503 at once', async ({ server }) => {
    server.handle((_req, res) => {
      res.writeHead(503, { 'retry-after': '3600' });
      res.end('later');
    });
    const fetch = client({ defaults: { retry: { maxRetryAfter: 5_000 } } });
    const res = await fetch(server.url);
    expect(res.status).toBe(503);
    expect(await res.text()).toBe('later');
    expect(server.deliveries).toHaveLength(1);
  });

  test('a socket reset before the response is retried', async ({ server }) => {
    server.handle((req, res, _d, i) => {
      if (i === 0) req.socket.destroy();
      else res.end('ok');
    });
    const res = await client()(server.url);
    expect(await res.text()).toBe('ok');
    expect(server.deliveries).toHaveLength(2);
  });

  test('a reset is not retried for POST without a key, and rejects with fetch TypeError', async ({ server }) => {
    server.handle((req) => void req.socket.destroy());
    const error = await client()(server.url, { method: 'POST', body: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as TypeError).cause).toMatchObject({ code: 'UND_ERR_SOCKET' });
    expect(server.deliveries).toHaveLength(1);
  });

  test('connection refused is retried for any method, then rejects with the last TypeError', async () => {
    const port = await refusedPort();
    const events: ResilientEvent[] = [];
    const error = await client({ onEvent: (e) => events.push(e) })(`http://127.0.0.1:${port}/`, {
      method: 'POST',
      body: 'x',
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect(events.filter((e) => e.type === 'retry').map((e) => 'reason' in e && e.reason)).toEqual([
      'ECONNREFUSED',
      'ECONNREFUSED',
    ]);
  });

  test('an attempt timeout is retried; the next attempt answers', async ({ server }) => {
    server.handle(async (_req, res, _d, i) => {
      if (i === 0) await sleep(2_000);
      res.end(`ok ${i}`);
    });
    const res = await client({ defaults: { timeout: { attempt: 200 } } })(server.url);
    expect(await res.text()).toBe('ok 1');
    expect(server.deliveries[0]?.closedEarly).toBe(true);
  });

  test('attempt timeouts on every attempt reject with a TimeoutError DOMException', async ({ server }) => {
    server.handle(async (_req, res) => {
      await sleep(1_000);
      res.end();
    });
    const fetch = client({ defaults: { timeout: { attempt: 50 }, retry: 1 } });
    const error = await fetch(server.url).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DOMException);
    expect((error as DOMException).name).toBe('TimeoutError');
    expect(server.deliveries).toHaveLength(2);
  });

  test('the total timeout rejects with a TimeoutError DOMException and stops retrying', async ({ server }) => {
    server.handle(async (_req, res) => {
      await sleep(2_000);
      res.end();
    });
    const fetch = client({ defaults: { timeout: { attempt: 5_000, total: 300 } } });
    const error = await fetch(server.url).catch((e: unknown) => e);
    expect((error as DOMException).name).toBe('TimeoutError');
    expect(server.deliveries).toHaveLength(1);
  });

  test('an abort during a 10 s back-off rejects at once with the signal reason', async ({ server }) => {
    server.handle((_req, res) => {
      res.writeHead(503);
      res.end();
    });
    const events: ResilientEvent[] = [];
    const fetch = client({ defaults: { retry: { backoff: () => 10_000 } }, onEvent: (e) => events.push(e) });
    const controller = new AbortController();
    const reason = new Error('user gave up');
    // The 10 s sleep is a fake timer nothing advances: only the abort can end it.
    fakeTimeouts();
    const call = track(fetch(server.url, { signal: controller.signal }));
    const sleeping = () => events.some((e) => e.type === 'retry');
    expect(await eventually(sleeping)).toBe(true);
    expect(call.settled).toBe(false);
    controller.abort(reason);
    await turn();
    expect(call.settled).toBe(true);
    expect(call.error).toBe(reason);
    expect(server.deliveries).toHaveLength(1);
  });

  test('an already aborted signal rejects without a delivery', async ({ server }) => {
    const reason = new Error('before');
    const error = await client()(server.url, { signal: AbortSignal.abort(reason) }).catch((e: unknown) => e);
    expect(error).toBe(reason);
    expect(server.deliveries).toHaveLength(0);
  });

  test('retry: false sends once', async ({ server }) => {
    server.handle(failTwiceThen200());
    const res = await client({ defaults: { retry: false } })(server.url);
    expect(res.status).toBe(503);
    expect(server.deliveries).toHaveLength(1);
  });

  test('a per-request policy overrides the host policy', async ({ server }) => {
    server.handle(failTwiceThen200());
    const res = await client()(server.url, { policy: { retry: { limit: 0 } } });
    expect(res.status).toBe(503);
    expect(server.deliveries).toHaveLength(1);
  });

  test('host patterns choose the policy: exact host:port beats the defaults', async ({ server }) => {
    server.handle(failTwiceThen200());
    const fetch = client({ hosts: { [`127.0.0.1:${server.port}`]: { retry: false } } });
    expect((await fetch(server.url)).status).toBe(503);
    expect(server.deliveries).toHaveLength(1);
  });

  test('shouldRetry can force a retry of a 409 and veto one of a 503', async ({ server }) => {
    server.handle((_req, res, _d, i) => {
      res.writeHead(i === 0 ? 409 : i === 1 ? 503 : 200);
      res.end();
    });
    const fetch = client({
      defaults: {
        retry: {
          shouldRetry: ({ response }) => (response?.status === 409 ? true : response?.status === 503 ? false : undefined),
        },
      },
    });
    expect((await fetch(server.url)).status).toBe(503);
    expect(server.deliveries).toHaveLength(2);
  });

  test('a custom backoff function is used between attempts', async ({ server }) => {
    server.handle(failTwiceThen200());
    const events: ResilientEvent[] = [];
    await client({ defaults: { retry: { backoff: (n) => n * 7 } }, onEvent: (e) => events.push(e) })(server.url);
    expect(events.filter((e) => e.type === 'retry').map((e) => 'delay' in e && e.delay)).toEqual([7, 14]);
  });

  test('stats count calls, attempts and retries per origin', async ({ server }) => {
    server.handle(failTwiceThen200());
    const fetch = client();
    await fetch(server.url);
    expect(fetch.stats().hosts[server.origin]).toMatchObject({ calls: 1, attempts: 3, retries: 2, failures: 0 });
  });

  test('many calls sharing one AbortSignal leave no listeners behind', async ({ server }) => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    onTestFinished(() => void process.off('warning', onWarning));
    const fetch = client();
    const controller = new AbortController();
    for (let i = 0; i < 50; i++) await (await fetch(server.url, { signal: controller.signal })).text();
    await sleep(10);
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  });

  test('calls after close() reject', async ({ server }) => {
    const fetch = createFetch();
    await fetch.close();
    await expect(fetch(server.url)).rejects.toThrow(/closed/);
  });
});

describe('close()', () => {
  // With setTimeout faked, a back-off sleep is a timer we can count, and an 8 s one never fires
  // within the test (the fake clock follows real time, far from 8 s): only close() can end it.
  // undici's shared 500 ms tick (util/timers.js) stops by itself once its pool has no timers left;
  // one fake second lets it, and is far short of the 8 s back-offs these tests check for.
  const settleUndiciTick = () => vi.advanceTimersByTimeAsync(1_000);

  test('issue-15: calls sleeping in a Retry-After back-off settle at close() with their last response, no timer left', async ({
    server,
  }) => {
    fakeTimeouts({ advance: true });
    server.handle((_req, res, _d, i) => {
      res.writeHead(503, { 'retry-after': '8', 'content-type': 'text/plain' });
      res.end(`busy ${i}`);
    });
    const events: ResilientEvent[] = [];
    const sleeping = signalled();
    const fetch = createFetch({
      onEvent: (e) => {
        events.push(e);
        if (events.filter((x) => x.type === 'retry').length === 10) sleeping.resolve();
      },
    });
    const calls = Array.from({ length: 10 }, (_, i) => track(fetch(`${server.url}?call=${i}`)));
    await sleeping.promise;
    expect(vi.getTimerCount()).toBeGreaterThanOrEqual(10); // the ten 8 s sleeps
    expect(calls.filter((c) => c.settled)).toHaveLength(0);

    await fetch.close();
    await turn();
    expect(calls.filter((c) => c.settled)).toHaveLength(10);
    await settleUndiciTick();
    expect(vi.getTimerCount()).toBe(0);
    expect(calls.map((c) => c.error)).toEqual(Array(10).fill(undefined));
    const responses = calls.map((c) => c.value as Response);
    expect(responses.map((r) => [r.status, r.headers.get('retry-after')])).toEqual(Array(10).fill([503, '8']));
    const bodies = await Promise.all(responses.map((r) => r.text()));
    expect(bodies.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `busy ${i}`).sort());
    expect(server.deliveries).toHaveLength(10); // no retry went out after close()
    const gaveUp = events.filter((e) => e.type === 'give-up');
    expect(gaveUp.map((e) => 'why' in e && e.why)).toEqual(Array(10).fill('client closed'));
  });

  test('issue-15: a call sleeping after a network error rejects at close() with that error', async ({ server }) => {
    fakeTimeouts({ advance: true });
    server.handle((req) => void req.socket.destroy());
    const sleeping = signalled();
    const fetch = createFetch({
      defaults: { retry: { backoff: () => 8_000 } },
      onEvent: (e) => e.type === 'retry' && sleeping.resolve(),
    });
    const call = track(fetch(server.url));
    await sleeping.promise;
    expect(call.settled).toBe(false);

    await fetch.close();
    await turn();
    expect(call.settled).toBe(true);
    await settleUndiciTick();
    expect(vi.getTimerCount()).toBe(0);
    expect(call.error).toBeInstanceOf(TypeError);
    expect((call.error as TypeError).message).toBe('fetch failed');
    expect(server.deliveries).toHaveLength(1);
  });

  test('resolves even while a response body is left unread, and frees its socket', async ({ server }) => {
    server.handle((_req, res) => {
      res.writeHead(200);
      res.write('partial'); // never ends
    });
    const fetch = createFetch();
    const res = await fetch(server.url);
    expect(res.status).toBe(200);
    await fetch.close();
    await expect(res.text()).rejects.toThrow();
  });
});

describe('issue-15: only network failures are retried and counted by the breaker', () => {
  const breakerOf = (fetch: ReturnType<typeof client>, origin: string) =>
    (fetch.stats().hosts[origin] as { breaker?: { fires: number; failures: number; successes: number } } | undefined)?.breaker;

  test('issue-15: a redirect loop sends 21 requests, as fetch does, is not retried and is no breaker failure', async ({
    server,
  }) => {
    server.handle((_req, res) => {
      res.writeHead(302, { location: '/again' });
      res.end();
    });
    const events: ResilientEvent[] = [];
    const fetch = client({ onEvent: (e) => events.push(e) });
    await expect(fetch(server.url)).rejects.toThrow(TypeError);
    expect(server.deliveries).toHaveLength(21);
    expect(events.filter((e) => e.type === 'retry')).toEqual([]);
    // Not the host's doing: not counted at all (issue 14).
    expect(breakerOf(fetch, server.origin)).toMatchObject({ fires: 0, failures: 0, successes: 0 });
  });

  test("issue-15: redirect: 'error' sends one request, is not retried and is no breaker failure", async ({ server }) => {
    server.handle((_req, res) => {
      res.writeHead(301, { location: '/elsewhere' });
      res.end();
    });
    const fetch = client();
    await expect(fetch(server.url, { redirect: 'error' })).rejects.toThrow(TypeError);
    expect(server.deliveries).toHaveLength(1);
    expect(breakerOf(fetch, server.origin)).toMatchObject({ fires: 0, failures: 0, successes: 0 });
  });

  test('issue-15: TRACE is rejected at once as fetch rejects it, with no retry and nothing sent', async ({ server }) => {
    const events: ResilientEvent[] = [];
    const fetch = client({ onEvent: (e) => events.push(e) });
    await expect(fetch(server.url, { method: 'TRACE' })).rejects.toThrow(/TRACE/);
    expect(server.deliveries).toHaveLength(0);
    expect(events.filter((e) => e.type === 'retry')).toEqual([]);
    expect(breakerOf(fetch, server.origin)).toMatchObject({ failures: 0 });
  });

  test('issue-15: a refused connection is still retried and counted by the breaker', async () => {
    const port = await refusedPort();
    const fetch = client();
    const error = await fetch(`http://127.0.0.1:${port}/`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    // Three attempts, one call: one failure (the breaker counts calls, issue 14).
    expect(breakerOf(fetch, `http://127.0.0.1:${port}`)).toMatchObject({ fires: 1, failures: 1, successes: 0 });
  });
});
