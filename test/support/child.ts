/**
 * Runs node + tsx in a child process, asynchronously (servers in the test's own process keep
 * answering). A child still alive after `killAfterMs` is killed (code null), so a stalled or hung
 * child fails its test instead of hanging the run.
 */
import { spawn } from 'node:child_process';

export type ChildResult = { code: number | null; stdout: string; stderr: string };

export const runTsx = (args: string[], env: NodeJS.ProcessEnv = process.env, killAfterMs = 20_000): Promise<ChildResult> =>
  new Promise<ChildResult>((resolve) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (data) => (stdout += data));
    proc.stderr.on('data', (data) => (stderr += data));
    const killer = setTimeout(() => proc.kill('SIGKILL'), killAfterMs);
    proc.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
