import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { decodersFor, MAX_CONTENT_ENCODINGS } from '../../../src/transport/decompress.js';

const decode = async (encoding: string, bytes: Buffer): Promise<string> => {
  const decoders = decodersFor(encoding);
  const chunks: Buffer[] = [];
  // Feed byte by byte: decoders must cope with any split.
  const source = Readable.from(Array.from(bytes, (byte) => Buffer.from([byte])));
  let stream: NodeJS.ReadableStream = source;
  for (const decoder of decoders) stream = stream.pipe(decoder);
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
};

describe('decodersFor', () => {
  const text = 'hello, decoded world';

  test('no encoding, identity-like or unknown codings: no decoders', () => {
    expect(decodersFor(null)).toEqual([]);
    expect(decodersFor('')).toEqual([]);
    expect(decodersFor('identity')).toEqual([]);
    expect(decodersFor('gzip, snappy')).toEqual([]);
  });

  test.for([
    ['gzip', zlib.gzipSync(text)],
    ['X-GZIP', zlib.gzipSync(text)],
    ['deflate', zlib.deflateSync(text)],
    ['deflate', zlib.deflateRawSync(text)],
    ['br', zlib.brotliCompressSync(text)],
    ['deflate, br', zlib.brotliCompressSync(zlib.deflateSync(text))],
    ['br,gzip', zlib.gzipSync(zlib.brotliCompressSync(text))],
  ] as const)('decodes %s', async ([encoding, bytes]) => {
    expect(await decode(encoding, bytes)).toBe(text);
  });

  test(`more than ${MAX_CONTENT_ENCODINGS} codings is an error`, () => {
    expect(decodersFor(Array(MAX_CONTENT_ENCODINGS).fill('gzip').join(','))).toHaveLength(MAX_CONTENT_ENCODINGS);
    expect(() =>
      decodersFor(
        Array(MAX_CONTENT_ENCODINGS + 1)
          .fill('gzip')
          .join(','),
      ),
    ).toThrow('too many content-encodings');
  });
});
