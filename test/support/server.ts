/**
 * Real `node:http` servers on 127.0.0.1 (port 0) for integration tests. Each delivery is recorded
 * with its method, headers and a SHA-256 of its body, so tests can count and compare deliveries.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test as base, onTestFinished, vi } from 'vitest';

export type Delivery = {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  readonly sha256: string;
  /** Set when the client closed the request before the response was finished. */
  closedEarly: boolean;
};

export type Handler = (
  req: http.IncomingMessage,
  res: http.ServerResponse,
  delivery: Delivery,
  index: number,
) => void | Promise<void>;

export type TestServer = {
  readonly url: string;
  readonly origin: string;
  readonly port: number;
  readonly deliveries: Delivery[];
  /** Replaces the handler; `index` counts deliveries from 0. */
  handle(handler: Handler): void;
  close(): Promise<void>;
};

export const startServer = async (handler?: Handler, port = 0): Promise<TestServer> => {
  let current: Handler = handler ?? ((_req, res) => void res.end('ok'));
  const deliveries: Delivery[] = [];
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of req) chunks.push(chunk as Buffer);
    } catch {
      return; // the client went away mid-upload
    }
    const body = Buffer.concat(chunks);
    const delivery: Delivery = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      body,
      sha256: createHash('sha256').update(body).digest('hex'),
      closedEarly: false,
    };
    res.on('close', () => {
      if (!res.writableFinished) delivery.closedEarly = true;
    });
    const index = deliveries.push(delivery) - 1;
    try {
      await current(req, res, delivery, index);
    } catch {
      res.destroy();
    }
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const actual = (server.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${actual}`;
  return {
    url: `${origin}/`,
    origin,
    port: actual,
    deliveries,
    handle: (next) => {
      current = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
};

/** A port that refuses connections: bound, then closed. */
export const refusedPort = async (): Promise<number> => {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
};

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The real setTimeout, kept at load: `eventually` keeps waiting in real time while a test fakes the global one. */
const realSetTimeout = globalThis.setTimeout;

/** Waits (bounded, in real time, also while setTimeout is faked) until `check` holds; returns whether it did. */
export const eventually = async (check: () => boolean, ms = 5_000): Promise<boolean> => {
  for (let waited = 0; waited < ms; waited += 10) {
    if (check()) return true;
    await new Promise((resolve) => realSetTimeout(resolve, 10));
  }
  return check();
};

/**
 * Fakes setTimeout, clearTimeout and performance only, for this test, and nothing advances them but the test
 * (unless `advance`):
 * a back-off or hedge delay ends exactly when the fake clock reaches it, and a server-side stall
 * never ends by itself. Sockets, setImmediate and nextTick stay real. Call it after creating the
 * clients that close in `onTestFinished`: vitest runs those hooks last in, first out, so the
 * timers are real again when the clients close (close() waits on timers while requests run).
 */
export const fakeTimeouts = (options: { now?: number; date?: boolean; advance?: boolean } = {}) => {
  vi.useFakeTimers({
    // performance too: the layers' deadlines and pauses (pushback) read performance.now(), and must
    // see the same clock as the sleeps, or a pause a fake sleep ended would still run in real time.
    toFake: ['setTimeout', 'clearTimeout', 'performance', ...(options.date ? (['Date'] as const) : [])],
    ...(options.now !== undefined && { now: options.now }),
    // `advance`: the fake clock also follows real time (got's recipe), for tests that only need
    // far-away timers to stay far away.
    ...(options.advance && { shouldAdvanceTime: true }),
  });
  onTestFinished(() => void vi.useRealTimers());
};

/** vitest fixture: `server` is started per test and closed (connections included) on teardown. */
export const test = base.extend<{ server: TestServer }>({
  // eslint-disable-next-line no-empty-pattern
  server: async ({}, use) => {
    const server = await startServer();
    await use(server);
    await server.close();
  },
});
