/**
 * Fault-injecting HTTP server for the benchmarks, run as its own process (see `fault-server.ts`) so
 * that client and server never share an event loop.
 *
 * Faults are chosen per request from query parameters:
 *   lat  base latency, ms                 tp  tail probability (0..1)   td  tail extra delay, ms
 *   fp   failure probability (0..1)       fs  failure status (503)      ra  Retry-After on failures, s
 *   rp   reset probability (0..1): the socket is reset (RST) after the request was read
 * A global "down" mode (set over the control endpoint) answers every request with `downStatus` or a
 * reset, still counting deliveries, so load amplification can be measured during an outage.
 *
 * Each delivery is counted per run (`x-bench-run`) and per call (`x-call-id`); a body whose SHA-256
 * differs from `x-body-sha256` counts as a mismatch; a response the client abandoned counts as an abort.
 *
 * Control endpoint (same port, path prefix `/__ctl/`):
 *   GET  /__ctl/stats?run=ID     counters of one run, as JSON
 *   POST /__ctl/mode?down=1&status=503|reset   or   ?down=0
 *   POST /__ctl/forget?run=ID    drops a run's counters
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type RunStats = {
  deliveries: number;
  calls: number;
  /** Largest number of deliveries seen for one call id. */
  maxPerCall: number;
  /** Deliveries while the server was in down mode. */
  downDeliveries: number;
  aborts: number;
  mismatches: number;
  resets: number;
  bodyBytes: number;
  statuses: Record<string, number>;
};

type RunState = { stats: RunStats; perCall: Map<string, number>; random: () => number };

/** mulberry32: a small seeded PRNG, so every run sees the same fault sequence in arrival order. */
export const seeded = (seed: number): (() => number) => {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};

const num = (params: URLSearchParams, name: string, fallback: number): number => {
  const raw = params.get(name);
  if (raw === null || raw === '') return fallback;
  const value = Number(raw);
  return Number.isFinite(value) && value >= 0 ? value : fallback;
};

const json = (res: http.ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

export const startFaultServer = async (): Promise<{ port: number; close: () => Promise<void> }> => {
  const runs = new Map<string, RunState>();
  let down: false | { status: number | 'reset' } = false;

  const runOf = (id: string): RunState => {
    let run = runs.get(id);
    if (!run) {
      run = {
        stats: {
          deliveries: 0,
          calls: 0,
          maxPerCall: 0,
          downDeliveries: 0,
          aborts: 0,
          mismatches: 0,
          resets: 0,
          bodyBytes: 0,
          statuses: {},
        },
        perCall: new Map(),
        random: seeded(42),
      };
      runs.set(id, run);
    }
    return run;
  };

  const control = (url: URL, res: http.ServerResponse) => {
    const run = url.searchParams.get('run') ?? 'default';
    if (url.pathname === '/__ctl/stats') return json(res, 200, runOf(run).stats);
    if (url.pathname === '/__ctl/forget') {
      runs.delete(run);
      return json(res, 200, { ok: true });
    }
    if (url.pathname === '/__ctl/mode') {
      const status = url.searchParams.get('status') ?? '503';
      down = url.searchParams.get('down') === '1' ? { status: status === 'reset' ? 'reset' : Number(status) } : false;
      return json(res, 200, { down });
    }
    return json(res, 404, { error: 'unknown control path' });
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('error', () => undefined);
    req.on('end', () => {
      if (url.pathname.startsWith('/__ctl/')) return control(url, res);
      const header = (name: string) => {
        const value = req.headers[name];
        return Array.isArray(value) ? value[0] : value;
      };
      const run = runOf(header('x-bench-run') ?? 'default');
      const { stats } = run;
      stats.deliveries++;
      const callId = header('x-call-id') ?? `anon-${stats.deliveries}`;
      const seen = (run.perCall.get(callId) ?? 0) + 1;
      run.perCall.set(callId, seen);
      if (seen === 1) stats.calls++;
      if (seen > stats.maxPerCall) stats.maxPerCall = seen;
      const body = Buffer.concat(chunks);
      stats.bodyBytes += body.length;
      const expected = header('x-body-sha256');
      if (expected !== undefined && createHash('sha256').update(body).digest('hex') !== expected) stats.mismatches++;
      res.on('close', () => {
        if (!res.writableFinished) stats.aborts++;
      });

      const p = url.searchParams;
      const lat = num(p, 'lat', 0);
      const roll = run.random();
      const tail = run.random() < num(p, 'tp', 0) ? num(p, 'td', 0) : 0;
      const reset = () => {
        stats.resets++;
        req.socket.resetAndDestroy();
      };
      const respond = () => {
        if (down) {
          stats.downDeliveries++;
          if (down.status === 'reset') return reset();
          stats.statuses[down.status] = (stats.statuses[down.status] ?? 0) + 1;
          res.writeHead(down.status, { 'content-type': 'text/plain' });
          return res.end('down');
        }
        const rp = num(p, 'rp', 0);
        const fp = num(p, 'fp', 0);
        if (roll < rp) return reset();
        let status = 200;
        const headers: http.OutgoingHttpHeaders = { 'content-type': 'text/plain' };
        if (roll < rp + fp) {
          status = num(p, 'fs', 503);
          if (p.has('ra')) headers['retry-after'] = String(num(p, 'ra', 0));
        }
        stats.statuses[status] = (stats.statuses[status] ?? 0) + 1;
        res.writeHead(status, headers);
        res.end(status === 200 ? 'ok' : 'fail');
      };
      const wait = lat + tail;
      if (wait > 0) setTimeout(respond, wait);
      else respond();
    });
  });
  server.keepAliveTimeout = 10_000;
  server.headersTimeout = 15_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
};

// Run as a child process: report the port over IPC, exit when the parent goes away.
if (process.send && process.argv.includes('--fault-server')) {
  const { port } = await startFaultServer();
  process.send({ port });
  process.on('disconnect', () => process.exit(0));
}
