import { once } from 'node:events';
import { createServer as createHttpServer, request as httpRequest, type Server } from 'node:http';
import { createSecureServer } from 'node:http2';
import { connect, type AddressInfo } from 'node:net';
import {
  Agent,
  EnvHttpProxyAgent,
  MockAgent,
  ProxyAgent,
  getGlobalDispatcher,
  setGlobalDispatcher,
  type Dispatcher,
} from 'undici';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createFetch, install } from '../../src/index.js';
import { runTsx } from '../support/child.js';
import { startServer, test } from '../support/server.js';
import { TLS_CERT, TLS_KEY } from '../support/tls.js';

const fast = { defaults: { retry: { backoff: { base: 1, max: 2 } } } } as const;
const originalDispatcher = getGlobalDispatcher();
const originalFetch = globalThis.fetch;
afterEach(() => {
  setGlobalDispatcher(originalDispatcher);
  globalThis.fetch = originalFetch;
});

/** A MockAgent answering 503 then 200 on http://api.test/x; nothing else (no network). */
const mockAgent = () => {
  const agent = new MockAgent();
  agent.disableNetConnect();
  const pool = agent.get('http://api.test');
  pool.intercept({ path: '/x' }).reply(503, 'busy');
  pool.intercept({ path: '/x' }).reply(200, 'mocked', { headers: { 'x-mock': '1' } });
  return agent;
};

/** A forward proxy on 127.0.0.1 (plain requests and CONNECT), recording what it was asked for. */
const startProxy = async () => {
  const seen: string[] = [];
  const server: Server = createHttpServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const target = new URL(req.url ?? '/');
    const upstream = httpRequest(target, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('connect', (req, socket, head) => {
    seen.push(`CONNECT ${req.url}`);
    const [host, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(socket).pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    seen,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
};

describe('the process-wide dispatcher (setGlobalDispatcher)', () => {
  for (const order of ['before', 'after'] as const) {
    it(`a global MockAgent set ${order} createFetch() answers, and a mocked 503 is retried`, async () => {
      const agent = mockAgent();
      if (order === 'before') setGlobalDispatcher(agent);
      const fetch = createFetch(fast);
      if (order === 'after') setGlobalDispatcher(agent);
      const res = await fetch('http://api.test/x');
      expect([res.status, res.headers.get('x-mock'), await res.text()]).toEqual([200, '1', 'mocked']);
      expect(fetch.stats().hosts['http://api.test']).toMatchObject({ calls: 1, attempts: 2, retries: 1 });
      agent.assertNoPendingInterceptors();
      await fetch.close();
      await agent.close();
    });

    it(`a global MockAgent set ${order} install() answers through globalThis.fetch`, async () => {
      const agent = mockAgent();
      if (order === 'before') setGlobalDispatcher(agent);
      const restore = install(fast);
      if (order === 'after') setGlobalDispatcher(agent);
      try {
        const res = await globalThis.fetch('http://api.test/x');
        expect([res.status, await res.text()]).toEqual([200, 'mocked']);
        agent.assertNoPendingInterceptors();
      } finally {
        await restore();
        await agent.close();
      }
    });
  }

  it('a global MockAgent also serves the reference transport', async () => {
    const agent = mockAgent();
    setGlobalDispatcher(agent);
    const fetch = createFetch({ ...fast, transport: 'undici-fetch' });
    expect(await (await fetch('http://api.test/x')).text()).toBe('mocked');
    agent.assertNoPendingInterceptors();
    await fetch.close();
    await agent.close();
  });

  test("with undici's default in the slot, requests use the client's own pool", async ({ server }) => {
    const fetch = createFetch();
    expect((await fetch(server.url)).status).toBe(200);
    expect(server.deliveries).toHaveLength(1);
    await fetch.close();
  });

  test('a global ProxyAgent carries the requests (the proxy sees them), in both set-up orders', async ({ server }) => {
    const proxy = await startProxy();
    try {
      for (const order of ['before', 'after']) {
        const agent = new ProxyAgent(proxy.url);
        if (order === 'before') setGlobalDispatcher(agent);
        const fetch = createFetch();
        if (order === 'after') setGlobalDispatcher(agent);
        expect(await (await fetch(`${server.url}via-${order}`)).text()).toBe('ok');
        await fetch.close();
        setGlobalDispatcher(originalDispatcher);
        await agent.close();
      }
      // undici's ProxyAgent tunnels (CONNECT) plain HTTP too.
      expect(proxy.seen).toEqual([`CONNECT ${new URL(server.url).host}`, `CONNECT ${new URL(server.url).host}`]);
      expect(server.deliveries.map((d) => d.url)).toEqual(['/via-before', '/via-after']);
    } finally {
      await proxy.close();
    }
  });

  test('a global EnvHttpProxyAgent sends through its proxy, and install() keeps it', async ({ server }) => {
    const proxy = await startProxy();
    const agent = new EnvHttpProxyAgent({ httpProxy: proxy.url, noProxy: '' });
    const restore = install();
    setGlobalDispatcher(agent);
    try {
      expect(await (await globalThis.fetch(`${server.url}env`)).text()).toBe('ok');
      expect(proxy.seen).toEqual([`CONNECT ${new URL(server.url).host}`]);
      expect(server.deliveries.map((d) => d.url)).toEqual(['/env']);
    } finally {
      await restore();
      await agent.close();
      await proxy.close();
    }
  });
});

describe('the dispatcher option', () => {
  it('sends through a MockAgent given as the dispatcher option, retries above it, and leaves it open on close()', async () => {
    const agent = mockAgent();
    const fetch = createFetch({ ...fast, dispatcher: agent });
    expect(await (await fetch('http://api.test/x')).text()).toBe('mocked');
    expect(fetch.stats().hosts['http://api.test']).toMatchObject({ attempts: 2, retries: 1 });
    await fetch.close();
    // Still open: a second client sends through it.
    agent.get('http://api.test').intercept({ path: '/again' }).reply(200, 'again');
    const second = createFetch({ dispatcher: agent });
    expect(await (await second('http://api.test/again')).text()).toBe('again');
    await second.close();
    await agent.close();
  });

  it("wins over the process-wide dispatcher; a call's own dispatcher wins over it", async () => {
    const global = new MockAgent();
    global.disableNetConnect();
    global.get('http://api.test').intercept({ path: '/x' }).reply(200, 'global').persist();
    setGlobalDispatcher(global);
    const option = mockAgent();
    const perCall = new MockAgent();
    perCall.disableNetConnect();
    perCall.get('http://api.test').intercept({ path: '/x' }).reply(200, 'per-call');
    const fetch = createFetch({ ...fast, dispatcher: option });
    expect(await (await fetch('http://api.test/x')).text()).toBe('mocked');
    expect(await (await fetch('http://api.test/x', { dispatcher: perCall })).text()).toBe('per-call');
    await fetch.close();
    await Promise.all([global.close(), option.close(), perCall.close()]);
  });

  // Node 24's Request keeps its dispatcher in a private field that nothing outside Node's own fetch
  // can read (undici 7 deletes the static accessor): there, pass the dispatcher in init or the option.
  const requestShowsDispatcher = Object.getOwnPropertySymbols(
    new Request('http://probe.test/', { dispatcher: new MockAgent() } as RequestInit),
  ).some((symbol) => symbol.description === 'dispatcher');
  it.skipIf(!requestShowsDispatcher)('issue-13: a Request constructed with a dispatcher keeps it', async () => {
    const own = new MockAgent();
    own.disableNetConnect();
    own.get('http://api.test').intercept({ path: '/r' }).reply(200, 'from the request');
    const fetch = createFetch();
    const request = new Request('http://api.test/r', { dispatcher: own } as RequestInit);
    expect(await (await fetch(request)).text()).toBe('from the request');
    own.assertNoPendingInterceptors();
    await fetch.close();
    await own.close();
  });

  test('a ProxyAgent as the dispatcher option: the proxy sees every attempt', async ({ server }) => {
    server.handle((_req, res, _d, index) => {
      res.writeHead(index === 0 ? 503 : 200);
      res.end('done');
    });
    const proxy = await startProxy();
    const agent = new ProxyAgent(proxy.url);
    const fetch = createFetch({ ...fast, dispatcher: agent });
    try {
      expect(await (await fetch(`${server.url}p`)).text()).toBe('done');
      expect(proxy.seen.length).toBeGreaterThan(0);
      expect(new Set(proxy.seen)).toEqual(new Set([`CONNECT ${new URL(server.url).host}`]));
      expect(server.deliveries).toHaveLength(2);
    } finally {
      await fetch.close();
      await agent.close();
      await proxy.close();
    }
  });

  it('reaches an HTTP/2-only TLS server with Agent({ allowH2: true, connect: { ca } })', async () => {
    const versions: string[] = [];
    const h2 = createSecureServer({ key: TLS_KEY, cert: TLS_CERT, allowHTTP1: false }, (req, res) => {
      versions.push(req.httpVersion);
      res.writeHead(versions.length === 1 ? 503 : 200, { 'content-type': 'text/plain' });
      res.end(`h2 ${req.method} ${req.url}`);
    });
    h2.listen(0, '127.0.0.1');
    await once(h2, 'listening');
    const agent = new Agent({ allowH2: true, connect: { ca: TLS_CERT } });
    const fetch = createFetch({ ...fast, dispatcher: agent });
    try {
      const res = await fetch(`https://127.0.0.1:${(h2.address() as AddressInfo).port}/two`);
      expect([res.status, await res.text()]).toEqual([200, 'h2 GET /two']);
      expect(versions).toEqual(['2.0', '2.0']);
    } finally {
      await fetch.close();
      await agent.close();
      await new Promise<void>((resolve) => h2.close(() => resolve()));
    }
  });

  it('is validated: a value without dispatch() and a dispatcher beside fetch are rejected', () => {
    expect(() => createFetch({ dispatcher: {} as unknown as Dispatcher })).toThrow(
      'dispatcher must be an undici Dispatcher (Agent, ProxyAgent, MockAgent, ...: an object with a dispatch() method), got an object',
    );
    expect(() => createFetch({ dispatcher: new MockAgent(), fetch: globalThis.fetch })).toThrow(
      /dispatcher cannot be combined with fetch/,
    );
  });
});

describe('install() keeps what plain fetch keeps', () => {
  beforeEach(() => void vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'], shouldAdvanceTime: true }));
  afterEach(() => void vi.useRealTimers());

  test('issue-13: a response held for two minutes still arrives (no attempt or total timeout unless configured)', async ({
    server,
  }) => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    server.handle(async (_req, res) => {
      await held;
      res.end('late');
    });
    const restore = install();
    try {
      const pending = globalThis.fetch(server.url);
      let settled = false;
      void pending.finally(() => (settled = true)).catch(() => {});
      await vi.advanceTimersByTimeAsync(120_000);
      expect(settled).toBe(false);
      release();
      expect(await (await pending).text()).toBe('late');
      expect(server.deliveries).toHaveLength(1);
    } finally {
      await restore();
    }
  });

  test('install() still applies a timeout that is configured', async ({ server }) => {
    server.handle(() => {});
    const restore = install({ defaults: { retry: false, timeout: { total: 5_000 } } });
    try {
      const pending = globalThis.fetch(server.url).catch((error: unknown) => error);
      await vi.advanceTimersByTimeAsync(5_001);
      expect(((await pending) as DOMException).name).toBe('TimeoutError');
    } finally {
      await restore();
    }
  });
});

describe('install() stacking (issue 15 item 8)', () => {
  test('issue-15: install(); install() does not warn, and one call is one delivery', async ({ server }) => {
    const warn = vi.spyOn(process, 'emitWarning');
    const first = install();
    const second = install();
    try {
      await (await globalThis.fetch(server.url)).text();
      expect(warn).not.toHaveBeenCalled();
      expect(server.deliveries).toHaveLength(1);
    } finally {
      await second();
      await first();
      warn.mockRestore();
    }
  });

  test('issue-15: install({ fetch: globalThis.fetch }) over an installed client warns that attempts multiply', async ({
    server,
  }) => {
    server.handle((_req, res) => {
      res.writeHead(503);
      res.end();
    });
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const first = install(fast);
    const second = install({ ...fast, fetch: globalThis.fetch });
    try {
      expect((await globalThis.fetch(server.url)).status).toBe(503);
      expect(warn).toHaveBeenCalledWith(expect.stringMatching(/attempts multiply/));
      expect(server.deliveries).toHaveLength(9);
    } finally {
      await second();
      await first();
      warn.mockRestore();
    }
  });
});

describe('NODE_USE_ENV_PROXY (Node 22/24)', () => {
  const major = Number(process.versions.node.split('.')[0]);
  // Node 20 has no env proxy support in its fetch: nothing to honour there.
  it.skipIf(major < 22)(
    'a child with NODE_USE_ENV_PROXY=1 and HTTP_PROXY sends createFetch() and install() through the proxy',
    async () => {
      const proxy = await startProxy();
      const target = await startServer();
      try {
        const script = `
        const { createFetch, install } = await import(${JSON.stringify(new URL('../../src/index.ts', import.meta.url).href)});
        const fetch = createFetch();
        const a = await (await fetch(process.env.TARGET + 'a')).text();
        const restore = install();
        const b = await (await globalThis.fetch(process.env.TARGET + 'b')).text();
        await restore(); await fetch.close();
        console.log(JSON.stringify([a, b]));`;
        // Spawned asynchronously: the proxy and the target run in this process and must keep answering.
        const child = await runTsx(['--input-type=module', '-e', script], {
          ...process.env,
          NODE_USE_ENV_PROXY: '1',
          HTTP_PROXY: proxy.url,
          NO_PROXY: '',
          TARGET: target.url,
        });
        expect(child.stderr).not.toMatch(/Error/);
        expect(JSON.parse(child.stdout.trim())).toEqual(['ok', 'ok']);
        // Node's env proxy agent (undici's ProxyAgent) tunnels plain HTTP too: one CONNECT per client's connection.
        const host = new URL(target.url).host;
        expect(proxy.seen).toEqual([`CONNECT ${host}`, `CONNECT ${host}`]);
      } finally {
        await target.close();
        await proxy.close();
      }
    },
  );
});
