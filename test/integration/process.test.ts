import { fileURLToPath } from 'node:url';
import { describe, expect } from 'vitest';
import { runTsx } from '../support/child.js';
import { test } from '../support/server.js';

const child = fileURLToPath(new URL('../fixtures/backoff-child.ts', import.meta.url));
const closeChild = fileURLToPath(new URL('../fixtures/close-during-backoff-child.ts', import.meta.url));

/** Runs a fixture; a child still alive after 20 s is killed (code null). */
const run = (args: string[], script = child) => runTsx([script, ...args]);

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

  test('issue-15: a script that calls close() during a ten-minute back-off exits by itself with the last response', async ({
    server,
  }) => {
    server.handle((_req, res) => {
      res.writeHead(503);
      res.end('busy');
    });
    const result = await run([server.url], closeChild);
    expect(result.stderr).not.toMatch(/Error/);
    // The call settles with the 503 it had, close() resolves, and the process exits on its own:
    // exit code 0, not the SIGKILL the harness sends a child still alive after 20 s.
    expect(result.stdout.trim().split('\n').sort()).toEqual(['closed', 'status 503 body busy']);
    expect(result.code).toBe(0);
    expect(server.deliveries).toHaveLength(1);
  });
});
