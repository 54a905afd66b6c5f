/**
 * A capacity-limited server for the overload scenario, in the bench's own process (its capacity is
 * made of timers, not CPU, so sharing the client's loop does not change it, and its in-service count
 * can be read at any moment).
 *
 * At most `capacity` requests are in service at once; each takes `serviceMs`, then gets 200. A request
 * that arrives while `capacity` or more are in service is answered 503 at once, but the rejection is
 * work too: it stays in service for `rejectCostMs` (so in-service can exceed `capacity`, and a flood of
 * rejected retries leaves less room for real work: the mechanism of a metastable failure).
 *
 * With `backlog`, a request that finds the server full waits in a first-in-first-out queue of that
 * length (its latency grows with the queue) and only a request that finds the queue full too is
 * rejected.
 *
 * Counts per run (`x-bench-run`, `x-call-id`) and, from `mark()`, per `windowMs` window: deliveries
 * accepted and rejected, answers completed, and the largest and mean in-service count.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type CapacityOptions = {
  /** Requests in service at once before rejecting. */
  readonly capacity: number;
  /** Service time of an accepted request, ms. */
  readonly serviceMs: number;
  /** How long a rejection occupies the server, ms. */
  readonly rejectCostMs: number;
  /** Width of a timeline window, ms. */
  readonly windowMs: number;
  /**
   * Requests that wait (first in, first out) for a free place instead of being rejected, as a
   * server's accept queue or thread-pool backlog does; only beyond it is a request rejected. 0 (the
   * default): none, every request over `capacity` is rejected at once.
   */
  readonly backlog?: number;
};

export type CapacityWindow = {
  /** Window start, ms since `mark()`. */
  readonly at: number;
  accepted: number;
  rejected: number;
  /** 200s written in this window. */
  completed: number;
  maxInService: number;
  /** Mean in-service count over the window's samples (sampled every `windowMs / 25`). */
  meanInService: number;
  samples: number;
};

export type CapacityStats = { deliveries: number; calls: number; maxPerCall: number; accepted: number; rejected: number };

export type CapacityServer = {
  readonly origin: string;
  readonly options: CapacityOptions;
  /** Requests in service now (served and being rejected). */
  inService(): number;
  /** Starts a new timeline at this moment (clears the previous one). */
  mark(): void;
  /** The timeline since `mark()`, one entry per window. */
  timeline(): CapacityWindow[];
  stats(run: string): CapacityStats;
  close(): Promise<void>;
};

const header = (req: http.IncomingMessage, name: string): string | undefined => {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

export const startCapacityServer = async (options: CapacityOptions): Promise<CapacityServer> => {
  const { capacity, serviceMs, rejectCostMs, windowMs } = options;
  const backlog = options.backlog ?? 0;
  /** Accepted requests waiting for a place (with `backlog`). */
  const waiting: Array<() => void> = [];
  const runs = new Map<string, { stats: CapacityStats; perCall: Map<string, number> }>();
  let inService = 0;
  let origin = performance.now();
  let windows: CapacityWindow[] = [];

  const windowNow = (): CapacityWindow => {
    const index = Math.max(0, Math.floor((performance.now() - origin) / windowMs));
    for (let i = windows.length; i <= index; i++)
      windows.push({ at: i * windowMs, accepted: 0, rejected: 0, completed: 0, maxInService: 0, meanInService: 0, samples: 0 });
    return windows[index] as CapacityWindow;
  };
  const occupy = (ms: number, done?: () => void) => {
    inService++;
    const w = windowNow();
    if (inService > w.maxInService) w.maxInService = inService;
    setTimeout(() => {
      inService--;
      done?.();
      while (waiting.length > 0 && inService < capacity) (waiting.shift() as () => void)();
    }, ms);
  };
  const sampler = setInterval(
    () => {
      const w = windowNow();
      w.meanInService = (w.meanInService * w.samples + inService) / (w.samples + 1);
      w.samples++;
    },
    Math.max(1, windowMs / 25),
  );
  sampler.unref();

  const server = http.createServer((req, res) => {
    let run = runs.get(header(req, 'x-bench-run') ?? 'default');
    if (!run) {
      run = { stats: { deliveries: 0, calls: 0, maxPerCall: 0, accepted: 0, rejected: 0 }, perCall: new Map() };
      runs.set(header(req, 'x-bench-run') ?? 'default', run);
    }
    const { stats } = run;
    stats.deliveries++;
    const callId = header(req, 'x-call-id') ?? `anon-${stats.deliveries}`;
    const seen = (run.perCall.get(callId) ?? 0) + 1;
    run.perCall.set(callId, seen);
    if (seen === 1) stats.calls++;
    if (seen > stats.maxPerCall) stats.maxPerCall = seen;
    req.resume();
    if (inService >= capacity && waiting.length >= backlog) {
      stats.rejected++;
      windowNow().rejected++;
      occupy(rejectCostMs);
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('overloaded');
      return;
    }
    stats.accepted++;
    windowNow().accepted++;
    // The work is done whether or not the client is still there.
    const serve = () =>
      occupy(serviceMs, () => {
        if (res.destroyed) return;
        windowNow().completed++;
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok');
      });
    if (inService >= capacity) waiting.push(serve);
    else serve();
  });
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    origin: `http://127.0.0.1:${port}`,
    options,
    inService: () => inService,
    mark: () => {
      origin = performance.now();
      windows = [];
    },
    timeline: () => windows.map((w) => ({ ...w, meanInService: Math.round(w.meanInService * 100) / 100 })),
    stats: (id) => ({ ...(runs.get(id)?.stats ?? { deliveries: 0, calls: 0, maxPerCall: 0, accepted: 0, rejected: 0 }) }),
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(sampler);
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
};
