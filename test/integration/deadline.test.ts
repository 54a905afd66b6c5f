/**
 * Issue 17: deadlines that cross services. The deadline and attempt headers on every attempt of a
 * retried and a hedged call, and `runWithDeadline` bounding calls made inside it, against real
 * node:http servers on 127.0.0.1.
 */
import { describe, expect, onTestFinished, test } from 'vitest';
import { createFetch, deadlineLeft, isResilientFetchError, runWithDeadline } from '../../src/index.js';
import { client } from '../support/client.js';
import { startServer } from '../support/server.js';

const HEADERS = { deadlineHeader: 'x-deadline-ms', attemptHeader: 'x-attempt' } as const;

describe('deadline and attempt headers', () => {
  test('every attempt of a retried call carries its number and the time left, decreasing', async () => {
    const server = await startServer((_req, res, _d, index) => void res.writeHead(index < 2 ? 503 : 200).end());
    onTestFinished(() => server.close());
    const fetch = client({ defaults: { ...HEADERS, retry: { backoff: { base: 30, max: 30, jitter: 'none' } } } });
    expect((await fetch(server.url)).status).toBe(200);
    expect(server.deliveries.map((d) => d.headers['x-attempt'])).toEqual(['1', '2', '3']);
    const left = server.deliveries.map((d) => Number(d.headers['x-deadline-ms']));
    expect(left[0]).toBeLessThanOrEqual(30_000);
    expect(left[0]).toBeGreaterThan(29_000);
    expect(left[1]).toBeLessThan(left[0] as number);
    expect(left[2]).toBeLessThan(left[1] as number);
  });

  test('a hedge is the next attempt number and carries less time than the primary', async () => {
    const server = await startServer(async (_req, res, _d, index) => {
      if (index === 0) await new Promise((resolve) => setTimeout(resolve, 500));
      res.end(String(index));
    });
    onTestFinished(() => server.close());
    const fetch = client({ defaults: { ...HEADERS, hedge: { delay: 30, budget: false } } });
    expect(await (await fetch(server.url)).text()).toBe('1');
    expect(server.deliveries.map((d) => d.headers['x-attempt'])).toEqual(['1', '2']);
    const [primary, hedge] = server.deliveries.map((d) => Number(d.headers['x-deadline-ms']));
    expect(hedge).toBeLessThan(primary as number);
  });

  test("off by default; a caller's header of the same name is replaced, never doubled; no total timeout, no deadline header", async () => {
    const server = await startServer();
    onTestFinished(() => server.close());
    await (await client()(server.url)).text();
    expect(server.deliveries[0]?.headers).not.toHaveProperty('x-attempt');
    const fetch = client({ defaults: { ...HEADERS, timeout: { total: false } } });
    await (await fetch(server.url, { headers: { 'X-Attempt': '99' } })).text();
    expect(server.deliveries[1]?.headers['x-attempt']).toBe('1');
    expect(server.deliveries[1]?.headers).not.toHaveProperty('x-deadline-ms');
    expect(() => createFetch({ defaults: { deadlineHeader: 'bad header' } })).toThrow(/defaults\.deadlineHeader/);
  });
});

describe('runWithDeadline', () => {
  test('bounds a call inside it (total timeout 30 s): it fails with TimeoutError at the deadline, its header says so', async () => {
    const server = await startServer(() => new Promise(() => {})); // never answers
    onTestFinished(() => server.close());
    const fetch = client({ defaults: HEADERS });
    const error = await runWithDeadline(200, () => fetch(server.url)).catch((e: unknown) => e);
    // What was left of the enclosing 200 ms when the call started, not the client's 30 s total.
    expect(error).toMatchObject({ name: 'TimeoutError', message: expect.stringMatching(/\(total \d{1,3} ms\)/) });
    expect(isResilientFetchError(error)).toBe(false);
    expect(Number(server.deliveries[0]?.headers['x-deadline-ms'])).toBeLessThanOrEqual(200);
    expect(server.deliveries).toHaveLength(1); // the deadline is the call's: not retried
  });

  test('nested: an inner deadline shortens, never lengthens; deadlineLeft() reads it', async () => {
    const server = await startServer();
    onTestFinished(() => server.close());
    const fetch = client({ defaults: HEADERS });
    expect(deadlineLeft()).toBeUndefined();
    await runWithDeadline(1_000, () =>
      runWithDeadline(60_000, async () => {
        expect(deadlineLeft()).toBeLessThanOrEqual(1_000);
        await (await fetch(server.url)).text();
        await runWithDeadline(300, async () => void (await (await fetch(server.url)).text()));
      }),
    );
    const [outer, inner] = server.deliveries.map((d) => Number(d.headers['x-deadline-ms']));
    expect(outer).toBeLessThanOrEqual(1_000);
    expect(inner).toBeLessThanOrEqual(300);
    expect(() => runWithDeadline(Number.NaN, () => 0)).toThrow(RangeError);
  });

  test('across services: a server runs its handler under the incoming header, its own calls carry less', async () => {
    const backend = await startServer();
    onTestFinished(() => backend.close());
    const inner = client({ defaults: HEADERS });
    const frontend = await startServer(async (req, res) => {
      const left = Number(req.headers['x-deadline-ms']);
      await runWithDeadline(left, async () => {
        await (await inner(backend.url)).text();
        res.end('done');
      });
    });
    onTestFinished(() => frontend.close());
    const outer = client({ defaults: { ...HEADERS, timeout: { total: 2_000 } } });
    expect(await (await outer(frontend.url)).text()).toBe('done');
    const first = Number(frontend.deliveries[0]?.headers['x-deadline-ms']);
    const second = Number(backend.deliveries[0]?.headers['x-deadline-ms']);
    expect(first).toBeLessThanOrEqual(2_000);
    expect(second).toBeLessThanOrEqual(first);
    expect(second).toBeLessThan(30_000); // not the backend client's own 30 s total
  });
});
