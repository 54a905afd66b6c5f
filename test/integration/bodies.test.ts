import { createHash } from 'node:crypto';
import { describe, expect, onTestFinished } from 'vitest';
import { createFetch } from '../../src/index.js';
import { test } from '../support/server.js';
import { client, FAST_BACKOFF } from '../support/client.js';

const sha = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');

const failTwice = (_req: unknown, res: import('node:http').ServerResponse, _d: unknown, i: number) => {
  res.writeHead(i < 2 ? 503 : 200);
  res.end();
};

const bytes = new Uint8Array(64 * 1024).map((_, i) => (i * 31) % 256);
const form = () => {
  const data = new FormData();
  data.append('field', 'value');
  data.append('file', new Blob([bytes], { type: 'application/octet-stream' }), 'data.bin');
  return data;
};
const streamOf = (chunks: Uint8Array[]) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });

const cases: Array<[string, () => RequestInit, string | RegExp | undefined]> = [
  ['string', () => ({ body: 'héllo wörld' }), 'text/plain;charset=UTF-8'],
  [
    'URLSearchParams',
    () => ({ body: new URLSearchParams({ a: '1', b: 'x y' }) }),
    'application/x-www-form-urlencoded;charset=UTF-8',
  ],
  ['FormData with a file', () => ({ body: form() }), /^multipart\/form-data; boundary=/],
  ['Blob', () => ({ body: new Blob([bytes], { type: 'image/png' }) }), 'image/png'],
  ['ArrayBuffer', () => ({ body: bytes.slice().buffer }), undefined],
  ['Uint8Array', () => ({ body: bytes.slice() }), undefined],
  ['DataView', () => ({ body: new DataView(bytes.slice().buffer) }), undefined],
  [
    'ReadableStream (duplex half)',
    () => ({ body: streamOf([bytes.slice(0, 1000), bytes.slice(1000)]), duplex: 'half' }) as RequestInit,
    undefined,
  ],
];

describe('every body type is replayed byte-identical, with its content-type', () => {
  for (const [name, init, type] of cases) {
    test(`${name}: three deliveries, one hash`, async ({ server }) => {
      server.handle(failTwice);
      const res = await client()(server.url, { method: 'PUT', ...init() });
      expect(res.status).toBe(200);
      expect(server.deliveries).toHaveLength(3);
      expect(new Set(server.deliveries.map((d) => d.sha256)).size).toBe(1);
      expect(server.deliveries[0]?.body.length).toBeGreaterThan(0);
      const contentType = server.deliveries[0]?.headers['content-type'];
      if (type === undefined) expect(contentType).toBeUndefined();
      else if (typeof type === 'string') expect(contentType).toBe(type);
      else expect(contentType).toMatch(type);
      expect(new Set(server.deliveries.map((d) => d.headers['content-type'])).size).toBe(1);
      // The framing too: the same on every delivery, and a length that matches the bytes.
      const framing = server.deliveries.map((d) => [d.headers['content-length'], d.headers['transfer-encoding']]);
      expect(new Set(framing.map((f) => JSON.stringify(f))).size).toBe(1);
      const length = server.deliveries[0]!.body.length;
      expect(framing[0]).toEqual(framing[0]![0] === undefined ? [undefined, 'chunked'] : [String(length), undefined]);
    });
  }

  test('a body over maxBufferBytes is sent exactly once, complete, and not retried', async ({ server }) => {
    server.handle((_req, res) => {
      res.writeHead(503);
      res.end();
    });
    const big = new Uint8Array(300_000).map((_, i) => i % 251);
    const res = await client({ defaults: { maxBufferBytes: 100_000 } })(server.url, { method: 'PUT', body: big });
    expect(res.status).toBe(503);
    expect(server.deliveries).toHaveLength(1);
    expect(server.deliveries[0]?.sha256).toBe(sha(big));
  });

  test('a stream that grows past maxBufferBytes is sent once with nothing dropped', async ({ server }) => {
    server.handle(failTwice);
    const chunks = Array.from({ length: 40 }, (_, i) => new Uint8Array(10_000).fill(i));
    const whole = Buffer.concat(chunks);
    const res = await client({ defaults: { maxBufferBytes: 100_000 } })(server.url, {
      method: 'PUT',
      body: streamOf(chunks),
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(503);
    expect(server.deliveries).toHaveLength(1);
    expect(server.deliveries[0]?.body.length).toBe(whole.length);
    expect(server.deliveries[0]?.sha256).toBe(sha(whole));
  });

  test('the caller may reuse its buffer after the call started: the sent bytes do not change', async ({ server }) => {
    server.handle(failTwice);
    const buffer = new Uint8Array([1, 2, 3, 4]);
    const pending = client()(server.url, { method: 'PUT', body: buffer });
    buffer.fill(9);
    await pending;
    expect(server.deliveries.map((d) => [...d.body])).toEqual([
      [1, 2, 3, 4],
      [1, 2, 3, 4],
      [1, 2, 3, 4],
    ]);
  });
});

describe('drop-in fetch semantics', () => {
  test('resolves to a global Response with url, headers and every set-cookie', async ({ server }) => {
    server.handle((_req, res) => {
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      res.setHeader('x-custom', 'yes');
      res.end('hello');
    });
    const res = await client()(new URL('/path?q=1', server.url));
    expect(res).toBeInstanceOf(Response);
    expect(res.headers).toBeInstanceOf(Headers);
    expect(res.url).toBe(`${server.origin}/path?q=1`);
    expect(res.redirected).toBe(false);
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(res.headers.get('x-custom')).toBe('yes');
    expect(await res.text()).toBe('hello');
  });

  test('follows a redirect and reports it', async ({ server }) => {
    server.handle((req, res) => {
      if (req.url === '/old') {
        res.writeHead(302, { location: '/new' });
        res.end();
      } else res.end(`at ${req.url}`);
    });
    const res = await client()(`${server.origin}/old`);
    expect(res.redirected).toBe(true);
    expect(res.url).toBe(`${server.origin}/new`);
    expect(await res.text()).toBe('at /new');
  });

  test('204 and HEAD have null bodies', async ({ server }) => {
    server.handle((req, res) => {
      res.writeHead(req.method === 'HEAD' ? 200 : 204, { 'content-length': req.method === 'HEAD' ? '5' : '0' });
      res.end();
    });
    const fetch = client();
    expect((await fetch(server.url, { method: 'DELETE' })).body).toBeNull();
    const head = await fetch(server.url, { method: 'HEAD' });
    expect(head.body).toBeNull();
    expect(head.headers.get('content-length')).toBe('5');
  });

  test('a global Request works as input, body and headers included, and is retried', async ({ server }) => {
    server.handle(failTwice);
    const request = new Request(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'k1', 'x-trace': 't' },
      body: JSON.stringify({ ok: true }),
    });
    const res = await client()(request);
    expect(res.status).toBe(200);
    expect(server.deliveries).toHaveLength(3);
    for (const d of server.deliveries) {
      expect(d.method).toBe('POST');
      expect(d.body.toString()).toBe('{"ok":true}');
      expect(d.headers['content-type']).toBe('application/json');
      expect(d.headers['x-trace']).toBe('t');
    }
  });

  test('a Request plus init: init wins, as in fetch', async ({ server }) => {
    const request = new Request(server.url, { method: 'POST', body: 'from request', headers: { 'x-a': '1' } });
    await client()(request, { method: 'PUT', body: 'from init', headers: { 'x-b': '2' } });
    expect(server.deliveries[0]).toMatchObject({ method: 'PUT' });
    expect(server.deliveries[0]?.body.toString()).toBe('from init');
    expect(server.deliveries[0]?.headers['x-b']).toBe('2');
    expect(server.deliveries[0]?.headers['x-a']).toBeUndefined();
  });

  test('an aborted Request signal is honoured', async ({ server }) => {
    const controller = new AbortController();
    const reason = new Error('stop');
    controller.abort(reason);
    const error = await client()(new Request(server.url, { signal: controller.signal })).catch((e: unknown) => e);
    expect(error).toBe(reason);
    expect(server.deliveries).toHaveLength(0);
  });

  test('invalid input rejects with a TypeError like fetch', async () => {
    const fetch = client();
    await expect(fetch('not a url')).rejects.toBeInstanceOf(TypeError);
    await expect(fetch('http://127.0.0.1:1/', { method: 'GET', body: 'x' })).rejects.toBeInstanceOf(TypeError);
    await expect(fetch('http://user:pw@127.0.0.1/')).rejects.toBeInstanceOf(TypeError);
  });

  test("a caller's abort during the body read errors the body stream", async ({ server }) => {
    server.handle((_req, res) => {
      res.writeHead(200);
      res.write('first');
    });
    const controller = new AbortController();
    const res = await client()(server.url, { signal: controller.signal });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort(new Error('mid-body'));
    await expect(reader.read()).rejects.toThrow('mid-body');
  });
});

/** What the server got, framing included: the bytes' hash and the headers that frame and type them. */
const framing = (delivery: import('../support/server.js').Delivery | undefined) => ({
  sha256: delivery?.sha256,
  length: delivery?.body.length,
  'content-length': delivery?.headers['content-length'],
  'transfer-encoding': delivery?.headers['transfer-encoding'],
  'content-type': delivery?.headers['content-type'],
});

describe('issue-15: bodies', () => {
  const int16 = new Int16Array([1, -2, 300, -400, 32767]);
  const int16Bytes = new Uint8Array(int16.buffer.slice(0));
  const blobBytes = new Uint8Array(5_000).map((_, i) => (i * 7) % 256);
  const bodies: Array<[string, () => BodyInit, Uint8Array | string, string | undefined]> = [
    [
      'URLSearchParams',
      () => new URLSearchParams({ a: '1', b: 'x y' }),
      'a=1&b=x+y',
      'application/x-www-form-urlencoded;charset=UTF-8',
    ],
    ['Blob', () => new Blob([blobBytes], { type: 'image/png' }), blobBytes, 'image/png'],
    ['Int16Array', () => new Int16Array(int16), int16Bytes, undefined],
  ];
  test('issue-15: a Buffer body is sent as it was when fetch() was called, though the caller reuses it', async ({ server }) => {
    server.handle(failTwice);
    const pool = Buffer.alloc(64, 0xaa); // a pooled buffer: the body is a view into it
    const buffer = pool.subarray(8, 24).fill(1);
    const original = Buffer.from(buffer);
    const pending = client()(server.url, { method: 'PUT', body: buffer });
    pool.fill(9);
    expect((await pending).status).toBe(200);
    const expected = {
      sha256: sha(original),
      length: 16,
      'content-length': '16',
      'transfer-encoding': undefined,
      'content-type': undefined,
    };
    expect(server.deliveries.map(framing)).toEqual(Array(3).fill(expected));
  });

  const bigBytes = new Uint8Array(300_000).map((_, i) => (i * 13) % 251);
  const bigText = 'x'.repeat(299_990) + 'héllo';
  const known: Array<[string, () => BodyInit, Uint8Array | string, string | undefined]> = [
    ['string', () => bigText, bigText, 'text/plain;charset=UTF-8'],
    ['Blob', () => new Blob([bigBytes], { type: 'application/octet-stream' }), bigBytes, 'application/octet-stream'],
    ['Uint8Array', () => bigBytes.slice(), bigBytes, undefined],
    [
      'URLSearchParams',
      () => new URLSearchParams({ q: bigText }),
      `q=${encodeURIComponent(bigText)}`,
      'application/x-www-form-urlencoded;charset=UTF-8',
    ],
  ];
  for (const [name, body, sent, type] of known) {
    const length = typeof sent === 'string' ? Buffer.byteLength(sent) : sent.byteLength;
    const expected = {
      sha256: sha(sent),
      length,
      'content-length': String(length),
      'transfer-encoding': undefined,
      'content-type': type,
    };

    test(`issue-15: a ${name} body over maxBufferBytes keeps its content-length, is sent once and not retried`, async ({
      server,
    }) => {
      server.handle((_req, res) => {
        res.writeHead(503);
        res.end();
      });
      const res = await client({ defaults: { maxBufferBytes: 100_000 } })(server.url, { method: 'PUT', body: body() });
      expect(res.status).toBe(503);
      expect(server.deliveries.map(framing)).toEqual([expected]);
    });

    test(`issue-15: a ${name} body over maxBufferBytes follows a 307 with its bytes and content-length, as fetch does`, async ({
      server,
    }) => {
      server.handle((_req, res, _d, i) => {
        res.writeHead(i === 0 ? 307 : 200, i === 0 ? { location: '/moved' } : {});
        res.end();
      });
      const res = await client({ defaults: { maxBufferBytes: 100_000 } })(server.url, { method: 'PUT', body: body() });
      expect(res.status).toBe(200);
      expect(res.redirected).toBe(true);
      expect(server.deliveries.map((d) => d.url)).toEqual(['/', '/moved']);
      expect(server.deliveries.map(framing)).toEqual([expected, expected]);
    });
  }

  for (const timeout of [false, { total: false }] as const) {
    for (const [name, body, sent, type] of bodies) {
      test(`issue-15: with timeout ${JSON.stringify(timeout)}, a ${name} POST body is sent and replayed like fetch sends it`, async ({
        server,
      }) => {
        server.handle(failTwice);
        const fetch = createFetch({ defaults: { timeout, retry: { methods: ['POST'], backoff: FAST_BACKOFF } } });
        onTestFinished(() => fetch.close());
        const res = await fetch(server.url, { method: 'POST', body: body() });
        expect(res.status).toBe(200);
        const expected = {
          sha256: sha(sent),
          length: typeof sent === 'string' ? sent.length : sent.byteLength,
          'transfer-encoding': undefined,
          'content-type': type,
        };
        expect(server.deliveries.map(framing)).toEqual(Array(3).fill({ ...expected, 'content-length': String(expected.length) }));
      });
    }

    test(`issue-15: with timeout ${JSON.stringify(timeout)}, a FormData POST body is sent and replayed with its boundary`, async ({
      server,
    }) => {
      server.handle(failTwice);
      const fetch = createFetch({ defaults: { timeout, retry: { methods: ['POST'], backoff: FAST_BACKOFF } } });
      onTestFinished(() => fetch.close());
      const res = await fetch(server.url, { method: 'POST', body: form() });
      expect(res.status).toBe(200);
      expect(server.deliveries).toHaveLength(3);
      const [first] = server.deliveries;
      expect(first?.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
      expect(first?.body.toString('latin1')).toContain('name="file"; filename="data.bin"');
      expect(server.deliveries.map(framing)).toEqual(Array(3).fill(framing(first)));
    });
  }
});
