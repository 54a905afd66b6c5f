/** Starts `bench/server.ts` in a child process and talks to its control endpoint. */
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import type { RunStats } from '../server.js';

export type { RunStats };

export type FaultServer = {
  readonly origin: string;
  /** URL of the fault endpoint with the given fault parameters as query. */
  url(faults?: Faults): string;
  stats(run: string): Promise<RunStats>;
  forget(run: string): Promise<void>;
  setDown(down: false | number | 'reset'): Promise<void>;
  close(): Promise<void>;
};

export type Faults = {
  /** Base latency, ms. */ lat?: number;
  /** Tail probability (0..1). */ tp?: number;
  /** Tail extra delay, ms. */ td?: number;
  /** Failure probability (0..1). */ fp?: number;
  /** Failure status. */ fs?: number;
  /** Retry-After on failures, seconds. */ ra?: number;
  /** Reset probability (0..1). */ rp?: number;
};

const serverFile = fileURLToPath(new URL('../server.ts', import.meta.url));

// Control calls use node:http with their own agent, never the pools under test.
const agent = new http.Agent({ keepAlive: false });
const control = (port: number, method: string, path: string): Promise<unknown> =>
  new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch (error) {
          reject(error);
        }
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });

export const startFaultProcess = async (): Promise<FaultServer> => {
  const child: ChildProcess = fork(serverFile, ['--fault-server'], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('fault server did not start within 30 s')), 30_000);
    child.once('message', (message) => {
      clearTimeout(timer);
      resolve((message as { port: number }).port);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`fault server exited with ${code}`));
    });
  });
  const origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    url: (faults = {}) => {
      const query = new URLSearchParams();
      for (const [key, value] of Object.entries(faults)) if (value !== undefined) query.set(key, String(value));
      const search = query.toString();
      return `${origin}/work${search ? `?${search}` : ''}`;
    },
    stats: async (run) => (await control(port, 'GET', `/__ctl/stats?run=${encodeURIComponent(run)}`)) as RunStats,
    forget: async (run) => void (await control(port, 'POST', `/__ctl/forget?run=${encodeURIComponent(run)}`)),
    setDown: async (down) =>
      void (await control(port, 'POST', down === false ? '/__ctl/mode?down=0' : `/__ctl/mode?down=1&status=${down}`)),
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.disconnect();
      }),
  };
};
