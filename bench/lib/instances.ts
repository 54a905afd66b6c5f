/**
 * Upstream instances for the rolling-restart scenario: `count` real `node:http` servers on
 * 127.0.0.1 in the bench's own process. Each gets a free port once, at start, and keeps it across
 * restarts: `down(i)` stops listening and destroys every connection (a killed process: connections
 * are refused until `up(i)` listens on the same port again).
 *
 * Every request that reaches an instance is a delivery, counted per run (`x-bench-run`), per call
 * (`x-call-id`) and per instance; each answers 200 after `latencyMs`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type InstanceStats = {
  deliveries: number;
  calls: number;
  /** Largest number of deliveries seen for one call id. */
  maxPerCall: number;
  /** Deliveries per instance, in instance order. */
  perInstance: number[];
  /** Requests cut off by a `down()` before their answer was written. */
  cutOff: number;
};

export type Instances = {
  readonly origins: readonly string[];
  readonly ports: readonly number[];
  isUp(index: number): boolean;
  /** Stops instance `index`: its port refuses connections; open connections are destroyed. */
  down(index: number): Promise<void>;
  /** Starts instance `index` again on its own port. */
  up(index: number): Promise<void>;
  stats(run: string): InstanceStats;
  close(): Promise<void>;
};

type RunState = { stats: InstanceStats; perCall: Map<string, number> };

const header = (req: http.IncomingMessage, name: string): string | undefined => {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

const listen = (server: http.Server, port: number): Promise<number> =>
  new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });

export const startInstances = async (count: number, latencyMs: number): Promise<Instances> => {
  const runs = new Map<string, RunState>();
  const runOf = (id: string): RunState => {
    let run = runs.get(id);
    if (!run) {
      run = {
        stats: { deliveries: 0, calls: 0, maxPerCall: 0, perInstance: new Array<number>(count).fill(0), cutOff: 0 },
        perCall: new Map(),
      };
      runs.set(id, run);
    }
    return run;
  };

  const handler =
    (index: number): http.RequestListener =>
    (req, res) => {
      const run = runOf(header(req, 'x-bench-run') ?? 'default');
      const { stats } = run;
      stats.deliveries++;
      stats.perInstance[index] = (stats.perInstance[index] ?? 0) + 1;
      const callId = header(req, 'x-call-id') ?? `anon-${stats.deliveries}`;
      const seen = (run.perCall.get(callId) ?? 0) + 1;
      run.perCall.set(callId, seen);
      if (seen === 1) stats.calls++;
      if (seen > stats.maxPerCall) stats.maxPerCall = seen;
      req.resume();
      res.on('close', () => {
        if (!res.writableFinished) stats.cutOff++;
      });
      const answer = () => {
        if (res.destroyed) return;
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`instance ${index}`);
      };
      if (latencyMs > 0) setTimeout(answer, latencyMs);
      else answer();
    };

  const make = (index: number) => {
    const server = http.createServer(handler(index));
    server.keepAliveTimeout = 10_000;
    return server;
  };

  const servers: Array<http.Server | undefined> = [];
  const ports: number[] = [];
  for (let i = 0; i < count; i++) {
    const server = make(i);
    ports.push(await listen(server, 0));
    servers.push(server);
  }

  const down = async (index: number) => {
    const server = servers[index];
    if (!server) return;
    servers[index] = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  };

  const up = async (index: number) => {
    if (servers[index]) return;
    const port = ports[index];
    if (port === undefined) throw new RangeError(`no instance ${index}`);
    const server = make(index);
    await listen(server, port);
    servers[index] = server;
  };

  return {
    origins: ports.map((port) => `http://127.0.0.1:${port}`),
    ports,
    isUp: (index) => servers[index] !== undefined,
    down,
    up,
    stats: (run) => structuredClone(runOf(run).stats),
    close: async () => {
      await Promise.all(servers.map((_, i) => down(i)));
    },
  };
};
