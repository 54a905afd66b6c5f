import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createFetch, type ResilientEvent } from '../../src/index.js';

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

// msw patches the global fetch: look it up at call time, after msw patched it.
const viaMsw = (events: ResilientEvent[] = []) =>
  createFetch({
    fetch: (input, init) => globalThis.fetch(input, init),
    defaults: { retry: { backoff: { base: 1, max: 2 } } },
    onEvent: (e) => events.push(e),
  });

describe('through msw (the fetch option)', () => {
  it('retries a 503 then returns the 200', async () => {
    let hits = 0;
    server.use(
      http.get('https://api.example.com/items', () =>
        ++hits < 2 ? new HttpResponse(null, { status: 503 }) : HttpResponse.json([1, 2]),
      ),
    );
    const fetch = viaMsw();
    const res = await fetch('https://api.example.com/items');
    expect(await res.json()).toEqual([1, 2]);
    expect(hits).toBe(2);
    await fetch.close();
  });

  it('retries a network error (HttpResponse.error) and rejects with a TypeError when it persists', async () => {
    let hits = 0;
    server.use(
      http.get('https://api.example.com/down', () => {
        hits++;
        return HttpResponse.error();
      }),
    );
    const events: ResilientEvent[] = [];
    const fetch = viaMsw(events);
    const error = await fetch('https://api.example.com/down').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect(hits).toBe(3);
    expect(events.filter((e) => e.type === 'retry').map((e) => 'reason' in e && e.reason)).toEqual([
      'network error',
      'network error',
    ]);
    await fetch.close();
  });

  it('a network error on a POST without a key is not retried', async () => {
    let hits = 0;
    server.use(
      http.post('https://api.example.com/down', () => {
        hits++;
        return HttpResponse.error();
      }),
    );
    const fetch = viaMsw();
    await expect(fetch('https://api.example.com/down', { method: 'POST', body: 'x' })).rejects.toBeInstanceOf(TypeError);
    expect(hits).toBe(1);
    await fetch.close();
  });

  it('replays a JSON POST body with Idempotency-Key byte-identical', async () => {
    const bodies: string[] = [];
    server.use(
      http.post('https://api.example.com/orders', async ({ request }) => {
        bodies.push(await request.text());
        return bodies.length < 3 ? new HttpResponse(null, { status: 502 }) : HttpResponse.json({ id: 7 }, { status: 201 });
      }),
    );
    const fetch = viaMsw();
    const res = await fetch('https://api.example.com/orders', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'abc' },
      body: JSON.stringify({ sku: 'x', qty: 2 }),
    });
    expect(res.status).toBe(201);
    expect(bodies).toEqual(Array(3).fill('{"sku":"x","qty":2}'));
    await fetch.close();
  });

  it('honours a per-host policy by host pattern', async () => {
    let hits = 0;
    server.use(
      http.get('https://db.internal/q', () => {
        hits++;
        return new HttpResponse(null, { status: 503 });
      }),
    );
    const fetch = createFetch({
      fetch: (input, init) => globalThis.fetch(input, init),
      defaults: { retry: { backoff: () => 0 } },
      hosts: { '*.internal': { retry: { limit: 4 } } },
    });
    expect((await fetch('https://db.internal/q')).status).toBe(503);
    expect(hits).toBe(5);
    await fetch.close();
  });
});
