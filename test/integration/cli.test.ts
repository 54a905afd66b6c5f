/**
 * The CLI as a child process (`node --import tsx src/cli.ts`, so no build is needed) against real
 * servers on 127.0.0.1. The built bin (`dist/esm/cli.js`) is run from an installed tarball by
 * scripts/check-package.sh.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, onTestFinished } from 'vitest';
import { refusedPort, sleep, test } from '../support/server.js';

type Run = { code: number; stdout: Buffer; stderr: string };

const cli = (...args: string[]): Promise<Run> =>
  new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli.ts', ...args],
      { encoding: 'buffer', timeout: 60_000, env: { ...process.env, NODE_NO_WARNINGS: '1' } },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr: stderr.toString() });
      },
    );
  });

describe('resilient-fetch CLI', () => {
  test('--help lists every flag and exits 0', async () => {
    const { code, stdout } = await cli('--help');
    expect(code).toBe(0);
    for (const flag of [
      '-X, --request',
      '-H, --header',
      '-d, --data',
      '--retry',
      '--hedge',
      '--breaker',
      '--timeout',
      '-f, --fail',
      '-v, --verbose',
      '-h, --help',
    ]) {
      expect(stdout.toString()).toContain(flag);
    }
  });

  test('prints the body byte for byte and exits 0', async ({ server }) => {
    const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 31) % 256));
    server.handle((_req, res) => void res.end(bytes));
    const { code, stdout, stderr } = await cli(server.url);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout.equals(bytes)).toBe(true);
  });

  test('-v writes a timeline of the retries to stderr; the body alone goes to stdout', async ({ server }) => {
    server.handle((_req, res, _d, i) => {
      res.writeHead(i < 2 ? 503 : 200);
      res.end(i < 2 ? 'busy' : 'ok');
    });
    const { code, stdout, stderr } = await cli(server.url, '-v');
    expect(code).toBe(0);
    expect(stdout.toString()).toBe('ok');
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(new RegExp(`^\\* \\[ +\\d+ ms\\] GET ${server.url}$`));
    expect(lines[1]).toMatch(/attempt 1 failed \(status 503\); retry with resend_count 1 in \d+ ms$/);
    expect(lines[2]).toMatch(/attempt 2 failed \(status 503\); retry with resend_count 2 in \d+ ms$/);
    expect(lines[3]).toMatch(/200 OK \(3 attempt\(s\) sent\)$/);
    expect(server.deliveries).toHaveLength(3);
  });

  test('-X, repeated -H and -d @file send that method, those headers and the file byte-identical', async ({ server }) => {
    const dir = await mkdtemp(join(tmpdir(), 'rf-cli-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'body.bin');
    const content = Buffer.from(Array.from({ length: 5_000 }, (_, i) => i % 251));
    await writeFile(file, content);
    const { code } = await cli(
      '-X',
      'PUT',
      '-H',
      'X-One: 1',
      '-H',
      'Content-Type: application/octet-stream',
      '-d',
      `@${file}`,
      server.url,
    );
    expect(code).toBe(0);
    expect(server.deliveries).toHaveLength(1);
    const [delivery] = server.deliveries;
    expect(delivery?.method).toBe('PUT');
    expect(delivery?.headers['x-one']).toBe('1');
    expect(delivery?.headers['content-type']).toBe('application/octet-stream');
    expect(delivery?.sha256).toBe(createHash('sha256').update(content).digest('hex'));
  });

  test('-d DATA makes a form POST, which a 503 does not retry; the 503 body is printed, exit 0', async ({ server }) => {
    server.handle((_req, res) => {
      res.writeHead(503);
      res.end('unavailable');
    });
    const { code, stdout } = await cli('-d', 'a=1&b=2', server.url);
    expect(code).toBe(0);
    expect(stdout.toString()).toBe('unavailable');
    expect(server.deliveries).toHaveLength(1);
    expect(server.deliveries[0]).toMatchObject({ method: 'POST' });
    expect(server.deliveries[0]?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(server.deliveries[0]?.body.toString()).toBe('a=1&b=2');
  });

  test('--fail on a 404 prints nothing to stdout and exits 22', async ({ server }) => {
    server.handle((_req, res) => {
      res.writeHead(404);
      res.end('not here');
    });
    const { code, stdout, stderr } = await cli('--fail', server.url);
    expect(code).toBe(22);
    expect(stdout.length).toBe(0);
    expect(stderr).toContain('(22) The requested URL returned error: 404');
  });

  test('--retry 0 sends once', async ({ server }) => {
    server.handle((_req, res) => {
      res.writeHead(503);
      res.end();
    });
    const { code } = await cli('--retry', '0', server.url);
    expect(code).toBe(0);
    expect(server.deliveries).toHaveLength(1);
  });

  test('a refused connection exits 7 after the retries', async () => {
    const port = await refusedPort();
    const { code, stderr } = await cli('-v', '--retry', '1', `http://127.0.0.1:${port}/`);
    expect(code).toBe(7);
    expect(stderr).toContain('attempt 1 failed (ECONNREFUSED); retry with resend_count 1');
    expect(stderr).toContain('(7) fetch failed');
  });

  test('--timeout exits 28 when the server is too slow', async ({ server }) => {
    server.handle(async (_req, res) => {
      await sleep(3_000);
      res.end('late');
    });
    const { code, stdout } = await cli('--timeout', '200', server.url);
    expect(code).toBe(28);
    expect(stdout.length).toBe(0);
  });

  // The other usage errors are covered in-process by test/unit/cli.test.ts; one spawn per exit code.
  test.for([
    [['--nope', 'http://127.0.0.1:9/'], 2, "Unknown option '--nope'"],
    [['not a url'], 3, 'malformed URL'],
  ] as const)('usage error %j exits %i', async ([args, exit, message]) => {
    const { code, stderr } = await cli(...args);
    expect(code).toBe(exit);
    expect(stderr).toContain(message);
  });
});
