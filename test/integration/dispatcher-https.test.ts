/**
 * HTTPS through both built-in transports, driven at the transport level so the Agent can trust a
 * test certificate: the request headers fetch sends over https (`br` in accept-encoding), a br body,
 * and an https → http redirect (cross-origin: credentials dropped, accept-encoding per hop).
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { describe, expect, onTestFinished, test } from 'vitest';
import { createDispatcherTransport } from '../../src/transport/dispatcher.js';
import type { Attempt, PreparedRequest } from '../../src/pipeline/types.js';
import { createUndiciTransport, type Transport } from '../../src/transport/index.js';
import { startServer } from '../support/server.js';
import { TLS_CERT, TLS_KEY } from '../support/tls.js';

type Seen = { url: string; headers: Record<string, unknown> };

const startHttps = async (
  handler: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void,
) => {
  const seen: Seen[] = [];
  const server = https.createServer({ key: TLS_KEY, cert: TLS_CERT }, (req, res) => {
    const { host: _host, ...headers } = req.headers;
    seen.push({ url: req.url ?? '', headers });
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { origin: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
};

const attempt = (url: string, headers: Array<[string, string]> = []): Attempt => {
  const signal = new AbortController().signal;
  const request = {
    url: new URL(url),
    method: 'GET',
    headers,
    body: null,
    stream: null,
    replayable: true,
    init: {},
    signal,
    deadline: Infinity,
  } as unknown as PreparedRequest;
  return { request, url: request.url, signal, number: 0, branch: 0 };
};

const transports: Record<string, () => Transport> = {
  fetch: () => createUndiciTransport({ connect: { ca: TLS_CERT } }),
  dispatcher: () => createDispatcherTransport({ connect: { ca: TLS_CERT } }),
};

const both = async (run: (transport: Transport) => Promise<void>) => {
  for (const make of Object.values(transports)) {
    const transport = make();
    try {
      await run(transport);
    } finally {
      await transport.close();
    }
  }
};

describe('https on both transports', () => {
  test('same request headers (br advertised) and a br body decoded', async () => {
    const text = 'brotli over tls '.repeat(100);
    const server = await startHttps((_req, res) => {
      res.writeHead(200, { 'content-encoding': 'br' });
      res.end(zlib.brotliCompressSync(text));
    });
    const bodies: string[] = [];
    await both(async (transport) => {
      const res = await transport.send(attempt(`${server.origin}/x`));
      expect(res).toBeInstanceOf(Response);
      bodies.push(await res.text());
    });
    expect(bodies).toEqual([text, text]);
    expect(server.seen).toHaveLength(2);
    expect(server.seen[0]?.headers['accept-encoding']).toBe('br, gzip, deflate');
    expect(server.seen[1]).toEqual(server.seen[0]);
  });

  test('an https → http redirect drops credentials; each hop gets its own accept-encoding', async () => {
    const plain = await startServer((req, res) => void res.end(`plain ${req.headers['accept-encoding']}`));
    onTestFinished(() => plain.close());
    const server = await startHttps((_req, res) => {
      res.writeHead(302, { location: `${plain.origin}/landed` });
      res.end();
    });
    const results: Array<{ text: string; url: string; redirected: boolean }> = [];
    await both(async (transport) => {
      const res = await transport.send(attempt(`${server.origin}/start`, [['authorization', 'Bearer t']]));
      results.push({ text: await res.text(), url: res.url, redirected: res.redirected });
    });
    const expected = { text: 'plain gzip, deflate', url: `${plain.origin}/landed`, redirected: true };
    expect(results).toEqual([expected, expected]);
    expect(server.seen.map((s) => s.headers.authorization)).toEqual(['Bearer t', 'Bearer t']);
    expect(plain.deliveries.map((d) => d.headers.authorization)).toEqual([undefined, undefined]);
    expect(plain.deliveries[1]?.headers).toEqual(plain.deliveries[0]?.headers);
  });
});
