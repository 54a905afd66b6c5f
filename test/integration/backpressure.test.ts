/**
 * Response bodies honour backpressure (DESIGN.md §7, Streams): a reader that pauses gets every byte,
 * in order, and the client holds only a bounded window of the body while it waits. Runs on both
 * built-in transports (the integration-fetch project repeats it on undici's fetch).
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createFetch } from '../../src/index.js';
import { runTsx } from '../support/child.js';
import { sleep } from '../support/server.js';

const MiB = 1024 * 1024;
const BLOCK = 64 * 1024;

/**
 * Block `n` of the body: xorshift bytes seeded by the block's position, so a lost, repeated or
 * reordered block shows, and gzip cannot shrink it (wire bytes ≈ body bytes).
 */
const block = (n: number): Buffer => {
  const bytes = Buffer.alloc(BLOCK);
  let x = (n + 1) * 2654435761;
  for (let offset = 0; offset < BLOCK; offset += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes.writeInt32BE(x | 0, offset);
  }
  return bytes;
};

const expectedHash = (size: number): string => {
  const hash = createHash('sha256');
  for (let n = 0; n * BLOCK < size; n++) hash.update(block(n));
  return hash.digest('hex');
};

type BodyServer = { origin: string; written: () => number; close: () => Promise<void> };

/** Serves `/plain/<bytes>` and `/gzip/<bytes>`, writing only as fast as the socket drains. */
const startBodyServer = async (): Promise<BodyServer> => {
  let written = 0;
  const server = http.createServer((req, res) => {
    const [, encoding, sizeText] = (req.url ?? '').split('/');
    const size = Number(sizeText);
    const source = Readable.from(
      (function* () {
        for (let n = 0; n * BLOCK < size; n++) yield block(n);
      })(),
      { objectMode: false, highWaterMark: BLOCK },
    );
    // Counts the bytes handed to the socket (compressed ones, for gzip).
    const count = new Transform({
      transform: (chunk: Buffer, _encoding, done) => {
        written += chunk.byteLength;
        done(null, chunk);
      },
    });
    if (encoding === 'gzip') {
      res.writeHead(200, { 'content-encoding': 'gzip', 'content-type': 'application/octet-stream' });
      void pipeline(source, zlib.createGzip({ level: 1 }), count, res).catch(() => {});
    } else {
      res.writeHead(200, { 'content-length': String(size), 'content-type': 'application/octet-stream' });
      void pipeline(source, count, res).catch(() => {});
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    written: () => written,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
};

const PIPELINE_CHILD = fileURLToPath(new URL('../fixtures/pipeline-download.ts', import.meta.url));

let server: BodyServer;
let dir: string;
beforeAll(async () => {
  server = await startBodyServer();
  dir = await mkdtemp(join(tmpdir(), 'rf-backpressure-'));
});
afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

/**
 * Reads the body with a reader that waits on a timer every `every` reads, tracking how far the
 * server got ahead of the reader (from `start`, its count before the call): with backpressure that lead is a few socket buffers, never the body.
 */
const readPausing = async (body: ReadableStream<Uint8Array>, every: number, start: number) => {
  const reader = body.getReader();
  const hash = createHash('sha256');
  let bytes = 0;
  let reads = 0;
  let emptyReads = 0;
  let maxLead = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    // An empty chunk is legal, but a run of them is the stall this test guards against (it starves timers too).
    if (value.byteLength === 0) {
      if (++emptyReads > 100) throw new Error(`stalled at ${bytes} bytes: ${emptyReads} empty reads in a row`);
      continue;
    }
    emptyReads = 0;
    hash.update(value);
    bytes += value.byteLength;
    if (++reads % every === 0) {
      await sleep(1);
      maxLead = Math.max(maxLead, server.written() - start - bytes);
    }
  }
  return { bytes, sha256: hash.digest('hex'), maxLead };
};

describe('a reader that pauses', () => {
  test('gets every byte of a 50 MB body in order, and the client holds a bounded window of it', async () => {
    const size = 50 * MiB;
    const fetch = createFetch();
    const start = server.written();
    const res = await fetch(`${server.origin}/plain/${size}`);
    const result = await readPausing(res.body!, 50, start);
    await fetch.close();
    expect(result.bytes).toBe(size);
    expect(result.sha256).toBe(expectedHash(size));
    // The server can only be ahead by what the socket buffers and the stream's queue hold.
    expect(result.maxLead).toBeLessThan(16 * MiB);
  });

  test('gets every byte of a gzip-encoded 24 MB body in order, with the same bounded window', async () => {
    const size = 24 * MiB;
    const fetch = createFetch();
    const start = server.written();
    const res = await fetch(`${server.origin}/gzip/${size}`);
    expect(res.headers.get('content-encoding')).toBe('gzip');
    const result = await readPausing(res.body!, 20, start);
    await fetch.close();
    expect(result.bytes).toBe(size);
    expect(result.sha256).toBe(expectedHash(size));
    expect(result.maxLead).toBeLessThan(16 * MiB);
  });

  test('stream.pipeline to a file writes every byte of a 50 MB body', async () => {
    const size = 50 * MiB;
    const file = join(dir, 'download.bin');
    const transport = process.env.RESILIENT_FETCH_TEST_TRANSPORT ?? 'dispatcher';
    const result = await runTsx([PIPELINE_CHILD, `${server.origin}/plain/${size}`, file, transport]);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ size, sha256: expectedHash(size) });
    expect(result.code).toBe(0);
  });

  test('a cancelled reader releases the connection: the next call on the pool completes', async () => {
    const fetch = createFetch();
    const res = await fetch(`${server.origin}/plain/${50 * MiB}`);
    const reader = res.body!.getReader();
    await reader.read();
    await reader.cancel();
    const next = await fetch(`${server.origin}/plain/${BLOCK}`);
    expect((await next.arrayBuffer()).byteLength).toBe(BLOCK);
    await fetch.close();
  });
});
