import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect } from 'vitest';
import { test } from '../support/server.js';

const child = fileURLToPath(new URL('../fixtures/backoff-child.ts', import.meta.url));

const run = (args: string[]) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', child, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => (stdout += d));
    proc.stderr.on('data', (d) => (stderr += d));
    const killer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    proc.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });

describe('process lifetime', () => {
  test('a script stays alive through a back-off and exits by itself after close()', async ({ server }) => {
    server.handle((_req, res, _d, i) => {
      res.writeHead(i === 0 ? 503 : 200);
      res.end(i === 0 ? 'busy' : 'done');
    });
    const result = await run([server.url]);
    expect(result.stderr).not.toMatch(/Error/);
    expect(result.stdout.trim()).toBe('status 200 body done');
    expect(result.code).toBe(0);
    expect(server.deliveries).toHaveLength(2);
  });
});
