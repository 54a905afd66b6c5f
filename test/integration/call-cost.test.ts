/**
 * What a call allocates for its signals. On Node 20 an AbortSignal costs about a tenth of a call's
 * CPU (docs/transport.md), so a call that the caller gave no signal makes none on the dispatcher
 * transport: the total timeout is kept through the deadline, the attempt timeout by a timer in the
 * transport (`Attempt.timeout`).
 */
import { describe, expect } from 'vitest';
import type { ResilientFetchOptions } from '../../src/options.js';
import { test } from '../support/server.js';
import { clientWith } from '../support/client.js';

const client = clientWith({ transport: 'dispatcher' });

/** Counts `new AbortController()` while `run` goes on (our code and the transport's alike). */
const countControllers = async (run: () => Promise<void>): Promise<number> => {
  const Original = globalThis.AbortController;
  let made = 0;
  globalThis.AbortController = class extends Original {
    constructor() {
      super();
      made++;
    }
  };
  try {
    await run();
  } finally {
    globalThis.AbortController = Original;
  }
  return made;
};

describe('signals per call on the dispatcher transport', () => {
  test('no caller signal, default timeouts: none', async ({ server }) => {
    const fetch = client({});
    await (await fetch(server.url)).arrayBuffer(); // warm: connection and host state
    const made = await countControllers(async () => {
      for (let i = 0; i < 10; i++) await (await fetch(server.url)).arrayBuffer();
    });
    expect(made).toBe(0);
  });

  test('the reference transport: one per call for the attempt timeout (undici’s fetch stops only by signal)', async ({
    server,
  }) => {
    const tenCalls = async (options: ResilientFetchOptions) => {
      const fetch = client({ transport: 'undici-fetch', ...options });
      await (await fetch(server.url)).arrayBuffer();
      return countControllers(async () => {
        for (let i = 0; i < 10; i++) await (await fetch(server.url)).arrayBuffer();
      });
    };
    // undici's fetch makes controllers of its own too: compare with the timeouts off.
    const off = await tenCalls({ defaults: { timeout: false } });
    expect(await tenCalls({})).toBe(off + 10);
  });

  test('no caller signal, timeouts off: none', async ({ server }) => {
    const fetch = client({ defaults: { timeout: { attempt: false, total: false } } });
    const made = await countControllers(async () => {
      for (let i = 0; i < 10; i++) await (await fetch(server.url)).arrayBuffer();
    });
    expect(made).toBe(0);
  });

  test('a caller signal: the total timeout gets its own controller, linked to the caller’s', async ({ server }) => {
    const fetch = client({});
    const caller = new AbortController();
    const made = await countControllers(async () => {
      for (let i = 0; i < 10; i++) await (await fetch(server.url, { signal: caller.signal })).arrayBuffer();
    });
    expect(made).toBe(10);
  });

  test('a streamed request body that never ends is still cut off by the total timeout', async ({ server }) => {
    const fetch = client({ defaults: { timeout: { total: 100 } } });
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('never ends'));
      },
    });
    const error = await fetch(server.url, { method: 'PUT', body, duplex: 'half' } as RequestInit).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'TimeoutError', message: expect.stringContaining('total 100 ms') });
    expect(server.deliveries).toHaveLength(0);
  });
});
