/**
 * msw and nock with no `fetch` option, in each set-up order: the mock answers, resilient-fetch's
 * layers sit above it (a mocked 503 and a mocked network error are retried), nothing reaches the
 * network (msw: onUnhandledRequest 'error'; nock: disableNetConnect), nothing recurses.
 */
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { createFetch, install, type ResilientFetchOptions } from '../../src/index.js';

const fast: ResilientFetchOptions = { defaults: { retry: { backoff: { base: 1, max: 2 } } } };
const originalFetch = globalThis.fetch;
// nock activates itself on import; these tests switch it on where the order needs it.
nock.restore();
afterEach(() => {
  nock.cleanAll();
  nock.restore();
  nock.enableNetConnect();
  globalThis.fetch = originalFetch;
});

const flaky = (counter: { hits: number }) =>
  http.get('https://api.example.com/items', () =>
    ++counter.hits < 2 ? new HttpResponse(null, { status: 503 }) : HttpResponse.json([1, 2]),
  );
const broken = (counter: { hits: number }) =>
  http.get('https://api.example.com/down', () => (++counter.hits < 3 ? HttpResponse.error() : HttpResponse.text('back')));

describe('msw (setupServer, onUnhandledRequest: error)', () => {
  for (const order of ['listen() before', 'listen() after'] as const) {
    it(`${order} createFetch(): a mocked 503 and a mocked network error are retried above the mock`, async () => {
      const server = setupServer();
      if (order === 'listen() before') server.listen({ onUnhandledRequest: 'error' });
      const fetch = createFetch(fast);
      if (order === 'listen() after') server.listen({ onUnhandledRequest: 'error' });
      const items = { hits: 0 };
      const down = { hits: 0 };
      server.use(flaky(items), broken(down));
      try {
        expect(await (await fetch('https://api.example.com/items')).json()).toEqual([1, 2]);
        expect(await (await fetch('https://api.example.com/down')).text()).toBe('back');
        expect([items.hits, down.hits]).toEqual([2, 3]);
        // Unhandled: msw's error, never the network.
        await expect(fetch('https://unmocked.example.com/')).rejects.toThrow(/MSW/);
      } finally {
        server.close();
        await fetch.close();
      }
    });
  }

  it("listen() before install(): globalThis.fetch retries above the mock; restore() puts msw's fetch back", async () => {
    const server = setupServer();
    server.listen({ onUnhandledRequest: 'error' });
    const mswFetch = globalThis.fetch;
    const restore = install(fast);
    const items = { hits: 0 };
    server.use(flaky(items));
    try {
      expect((await globalThis.fetch('https://api.example.com/items')).status).toBe(200);
      expect(items.hits).toBe(2);
    } finally {
      await restore();
      expect(globalThis.fetch).toBe(mswFetch);
      server.close();
    }
  });

  /** install() first, then msw: a server whose handler answers 503 then 200 (`items.hits` counts). */
  const installThenListen = () => {
    const restore = install(fast);
    const server = setupServer();
    server.listen({ onUnhandledRequest: 'error' });
    const items = { hits: 0 };
    server.use(flaky(items));
    return { restore, server, items };
  };

  it('install() before listen(): restore.fetch keeps the layers above msw too', async () => {
    const { restore, server, items } = installThenListen();
    try {
      expect((await restore.fetch('https://api.example.com/items')).status).toBe(200);
      expect(items.hits).toBe(2);
      // Unhandled through the global: msw passes it to the installed fetch, which must not loop back into msw.
      await expect(globalThis.fetch('https://unmocked.example.com/')).rejects.toThrow(/MSW/);
    } finally {
      server.close();
      await restore();
    }
  });

  it('issue-13: install() before listen(): the global fetch keeps the layers above msw (a mocked 503 is retried), and close/restore put everything back', async () => {
    const original = globalThis.fetch;
    const { restore, server, items } = installThenListen();
    try {
      expect(globalThis.fetch).toBe(restore.fetch);
      const res = await globalThis.fetch('https://api.example.com/items');
      expect(res.status).toBe(200);
      expect(items.hits).toBe(2);
      await expect(globalThis.fetch('https://unmocked.example.com/')).rejects.toThrow(/MSW/);
    } finally {
      server.close();
    }
    // msw disposed: the installed client is back on the network path, and a second listen() is seen again.
    expect(globalThis.fetch).toBe(restore.fetch);
    const again = setupServer(http.get('https://api.example.com/two', () => HttpResponse.text('two')));
    again.listen({ onUnhandledRequest: 'error' });
    try {
      expect(await (await globalThis.fetch('https://api.example.com/two')).text()).toBe('two');
    } finally {
      again.close();
      await restore();
    }
    expect(globalThis.fetch).toBe(original);
  });

  for (const order of ['before', 'after'] as const) {
    it(`issue-13: the README recipe install({ fetch: (i, n) => globalThis.fetch(i, n) }) with listen() ${order} does not recurse`, async () => {
      const server = setupServer(http.get('https://api.example.com/one', () => HttpResponse.text('one')));
      if (order === 'before') server.listen({ onUnhandledRequest: 'error' });
      const restore = install({ ...fast, fetch: (i, n) => globalThis.fetch(i, n) });
      if (order === 'after') server.listen({ onUnhandledRequest: 'error' });
      try {
        expect(await (await restore.fetch('https://api.example.com/one')).text()).toBe('one');
      } finally {
        server.close();
        await restore();
      }
    });
  }
});

describe('nock 14 (disableNetConnect)', () => {
  const scope = () =>
    nock('https://api.example.com')
      .get('/items')
      .reply(503)
      .get('/items')
      .reply(200, [1, 2])
      .get('/down')
      .replyWithError({ code: 'ECONNRESET', message: 'socket hang up' })
      .get('/down')
      .reply(200, 'back');

  for (const order of ['activated before', 'activated after'] as const) {
    for (const entry of ['createFetch()', 'install()'] as const) {
      it(`${order} ${entry}: nock answers, its 503 and its network error are retried`, async () => {
        if (order === 'activated before') nock.activate();
        const client = entry === 'install()' ? install(fast) : createFetch(fast);
        const call = entry === 'install()' ? (url: string) => globalThis.fetch(url) : (client as ReturnType<typeof createFetch>);
        if (order === 'activated after') nock.activate();
        nock.disableNetConnect();
        const mocked = scope();
        try {
          // install() before nock: nock's fetch interceptor is moved under the installed client, so the global keeps the layers.
          const send = call;
          expect(await (await send('https://api.example.com/items')).json()).toEqual([1, 2]);
          expect(await (await send('https://api.example.com/down')).text()).toBe('back');
          expect(mocked.isDone()).toBe(true);
          await expect(send('https://unmocked.example.com/')).rejects.toBeInstanceOf(Error);
        } finally {
          if (entry === 'install()') await (client as ReturnType<typeof install>)();
          else await (client as ReturnType<typeof createFetch>).close();
        }
      });
    }
  }
});
