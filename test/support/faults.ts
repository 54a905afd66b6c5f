/**
 * A fault-injecting `node:http` server on 127.0.0.1. Each request names its own faults in the
 * `x-fault` header, one per delivery of the same call (`x-call-id`): `503,reset,ok` answers the
 * first delivery with a 503, resets the second and answers the third. Deliveries past the plan get
 * `ok`. Because the plan travels with the request, concurrency cannot change which fault a call
 * meets, only when. Bodies are hashed while they stream in (never buffered), so a 100 MB upload
 * costs the server no memory, and compared with the client's `x-body-sha256`.
 *
 * Faults: `ok`, `503`, `ra:<Retry-After value>`, `slow:<ms>` (slow headers), `trickle:<chunks>x<ms>`
 * (a body that trickles), `reset` (reset before headers), `reset-body` (reset in the middle of the
 * body), `half` (a half-written response: content-length larger than what is sent, then close).
 * `stop()` / `start()` / `restart()` stop and restart the server on the same port.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export type Fault =
  | { kind: 'ok' }
  | { kind: '503' }
  | { kind: 'retry-after'; value: string }
  | { kind: 'slow-headers'; ms: number }
  | { kind: 'trickle'; chunks: number; ms: number }
  | { kind: 'reset' }
  | { kind: 'reset-body' }
  | { kind: 'half' };

export type FaultKind = Fault['kind'] | 'restart';

export const encodeFault = (fault: Fault): string => {
  switch (fault.kind) {
    case 'ok':
    case '503':
    case 'reset':
    case 'reset-body':
    case 'half':
      return fault.kind;
    case 'retry-after':
      return `ra:${encodeURIComponent(fault.value)}`;
    case 'slow-headers':
      return `slow:${fault.ms}`;
    case 'trickle':
      return `trickle:${fault.chunks}x${fault.ms}`;
  }
};

export const encodePlan = (plan: readonly Fault[]): string => plan.map(encodeFault).join(',');

/** Parses one `x-fault` entry; anything unknown is `ok`. */
export const decodeFault = (text: string): Fault => {
  const [kind = '', arg = ''] = text.trim().split(/:(.*)/s);
  switch (kind) {
    case '503':
    case 'reset':
    case 'reset-body':
    case 'half':
      return { kind };
    case 'ra':
      return { kind: 'retry-after', value: decodeURIComponent(arg) };
    case 'slow':
      return { kind: 'slow-headers', ms: Math.min(60_000, Number(arg) || 0) };
    case 'trickle': {
      const [chunks, ms] = arg.split('x').map(Number);
      return { kind: 'trickle', chunks: Math.max(1, Math.min(100, chunks || 1)), ms: Math.min(10_000, ms || 0) };
    }
    default:
      return { kind: 'ok' };
  }
};

/** The 200 body the server sends for a call: checkable by the client without a round trip. */
export const okBody = (callId: string, sha256: string, pad: number): string =>
  `${callId}:${sha256}:${'x'.repeat(Math.max(0, Math.min(1 << 20, pad)))}`;

export const unavailableBody = (callId: string): string => `unavailable ${callId}`;

export const sha256Hex = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex');

/** One request as the server saw it. */
export type Arrival = {
  readonly callId: string;
  readonly method: string;
  readonly idempotencyKey: boolean;
  readonly fault: Fault;
  /** Set once the whole body arrived. */
  bytes?: number;
  sha256?: string;
  /** The client's `x-body-sha256`, if sent. */
  readonly expectedSha256: string | undefined;
};

export type FaultServer = {
  readonly port: number;
  readonly origin: string;
  readonly url: string;
  /** Requests whose headers reached the server, in all. */
  readonly arrivalCount: number;
  /** Arrivals per `x-call-id`, in order. */
  arrivalsFor(callId: string): readonly Arrival[];
  /** Forgets a call's arrivals once it has been checked (keeps long runs bounded). */
  release(callId: string): void;
  /** Arrivals whose complete body hashed differently from the client's `x-body-sha256`. */
  readonly mismatches: Arrival[];
  /** Faults actually injected, by kind (restarts included). */
  readonly injected: Record<FaultKind, number>;
  /** Sockets from clients still open on the server side. */
  openSockets(): number;
  readonly listening: boolean;
  /** Stops listening and drops every connection (in-flight requests see a reset). */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  /** stop(), wait `downMs`, start(). */
  restart(downMs: number): Promise<void>;
  close(): Promise<void>;
};

const KINDS: readonly FaultKind[] = [
  'ok',
  '503',
  'retry-after',
  'slow-headers',
  'trickle',
  'reset',
  'reset-body',
  'half',
  'restart',
];

const header = (req: http.IncomingMessage, name: string): string | undefined => {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

export const startFaultServer = async ({ port = 0 } = {}): Promise<FaultServer> => {
  let arrivalCount = 0;
  const byCall = new Map<string, Arrival[]>();
  const mismatches: Arrival[] = [];
  const injected = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  const sockets = new Set<Socket>();
  const timers = new Set<AbortController>();

  const wait = async (ms: number): Promise<boolean> => {
    const controller = new AbortController();
    timers.add(controller);
    try {
      await sleep(ms, undefined, { signal: controller.signal });
      return true;
    } catch {
      return false;
    } finally {
      timers.delete(controller);
    }
  };

  const server = http.createServer((req, res) => {
    const callId = header(req, 'x-call-id') ?? '-';
    const previous = byCall.get(callId) ?? [];
    const plan = (header(req, 'x-fault') ?? '').split(',');
    const fault = decodeFault(plan[previous.length] ?? 'ok');
    const arrival: Arrival = {
      callId,
      method: req.method ?? '',
      idempotencyKey: req.headers['idempotency-key'] !== undefined,
      fault,
      expectedSha256: header(req, 'x-body-sha256'),
    };
    arrivalCount++;
    previous.push(arrival);
    byCall.set(callId, previous);
    injected[fault.kind]++;

    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.byteLength;
      hash.update(chunk);
    });
    req.on('error', () => {});
    res.on('error', () => {});
    req.on('end', () => {
      arrival.bytes = bytes;
      arrival.sha256 = hash.digest('hex');
      if (arrival.expectedSha256 !== undefined && arrival.expectedSha256 !== arrival.sha256) mismatches.push(arrival);
      void respond(req, res, arrival).catch(() => res.destroy());
    });
  });

  const respond = async (req: http.IncomingMessage, res: http.ServerResponse, arrival: Arrival) => {
    const { fault, callId } = arrival;
    const pad = Math.max(0, Number(header(req, 'x-response-pad')) || 0);
    const body = okBody(callId, arrival.sha256 ?? '', pad);
    switch (fault.kind) {
      case 'ok':
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
        res.end(body);
        return;
      case '503':
      case 'retry-after': {
        const headers: http.OutgoingHttpHeaders = { 'content-type': 'text/plain' };
        if (fault.kind === 'retry-after') headers['retry-after'] = fault.value;
        res.writeHead(503, headers);
        res.end(unavailableBody(callId));
        return;
      }
      case 'slow-headers':
        if (!(await wait(fault.ms)) || res.destroyed) return;
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
        res.end(body);
        return;
      case 'trickle': {
        res.writeHead(200, { 'content-type': 'text/plain' });
        const step = Math.ceil(body.length / fault.chunks);
        for (let offset = 0; offset < body.length; offset += step) {
          if (res.destroyed) return;
          res.write(body.slice(offset, offset + step));
          if (offset + step < body.length && !(await wait(fault.ms))) return;
        }
        res.end();
        return;
      }
      case 'reset':
        req.socket.destroy();
        return;
      case 'reset-body':
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write(body.slice(0, Math.floor(body.length / 2)));
        // Let the headers and the first half reach the client, then cut the connection.
        await wait(5);
        req.socket.destroy();
        return;
      case 'half':
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) + 100 });
        res.write(body);
        req.socket.destroySoon();
        return;
    }
  };

  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.keepAliveTimeout = 5_000;

  const listen = async (on: number): Promise<number> => {
    // Another process may grab the port while we are down: try again a bounded number of times.
    for (let tries = 0; ; tries++) {
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(on, '127.0.0.1', () => {
            server.off('error', reject);
            resolve();
          });
        });
        return (server.address() as AddressInfo).port;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || tries >= 40) throw error;
        await sleep(25);
      }
    }
  };

  const actual = await listen(port);
  const origin = `http://127.0.0.1:${actual}`;
  let listening = true;

  const stop = async (): Promise<void> => {
    if (!listening) return;
    listening = false;
    for (const controller of timers) controller.abort();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    for (const socket of sockets) socket.destroy();
    await closed;
  };

  const start = async (): Promise<void> => {
    if (listening) return;
    await listen(actual);
    listening = true;
  };

  return {
    port: actual,
    origin,
    url: `${origin}/`,
    get arrivalCount() {
      return arrivalCount;
    },
    arrivalsFor: (callId) => byCall.get(callId) ?? [],
    release: (callId) => void byCall.delete(callId),
    mismatches,
    injected,
    openSockets: () => sockets.size,
    get listening() {
      return listening;
    },
    stop,
    start,
    restart: async (downMs) => {
      injected.restart++;
      await stop();
      await sleep(downMs);
      await start();
    },
    close: stop,
  };
};
