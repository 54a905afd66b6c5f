/**
 * Smoke test: each example runs with one command against its embedded 127.0.0.1 server, exits 0
 * by itself, and prints its key line. hedged.ts and failover.ts need the hedge and upstream
 * layers; they join this list once those land.
 */
import { execFile } from 'node:child_process';
import { describe, expect, test } from 'vitest';

const run = (name: string): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', `examples/${name}.ts`],
      { timeout: 60_000, env: { ...process.env, NODE_NO_WARNINGS: '1' } },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    );
  });

describe('examples', () => {
  test.for([
    ['install', /^global fetch restored$/m],
    ['per-host', /^stats search {3}calls=1 attempts=1 retries=0$/m],
    ['hedged', /^hedging cut the worst latency/m],
    ['failover', /^every call answered after A was killed$/m],
    ['chaos', /^policy holds under chaos: 3 of 3 checks passed$/m],
  ] as const)('examples/%s.ts exits 0 and prints its key line', async ([name, line]) => {
    const { code, stdout, stderr } = await run(name);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(line);
  });

  test('examples/timeline.ts shows each attempt arriving and each retry with its resend count, in order', async () => {
    const { code, stdout, stderr } = await run('timeline');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^timeline done: 3 attempts, 2 retries for one call$/m);
    const lines = stdout.split('\n').map((l) => l.replace(/^\s*\d+ ms\s+/, ''));
    expect(lines.filter((l) => /request #|resend_count|^client 200/.test(l))).toEqual([
      'server request #1 arrived (GET /items)',
      expect.stringMatching(
        /^client attempt 1 failed \(status 503\); next attempt has http\.request\.resend_count=1, in \d+ ms$/,
      ),
      'server request #2 arrived (GET /items)',
      expect.stringMatching(
        /^client attempt 2 failed \((UND_ERR_SOCKET|ECONNRESET)\); next attempt has http\.request\.resend_count=2, in \d+ ms$/,
      ),
      'server request #3 arrived (GET /items)',
      'client 200 {"items":[1,2,3]}',
    ]);
  });
});
