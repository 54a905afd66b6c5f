/**
 * Content decoding as undici's fetch does it: codings applied in reverse order, at most five,
 * gzip/x-gzip, deflate (zlib or raw, told by the first byte), br, and zstd where Node has it.
 * An unknown coding leaves the body as it came.
 */
import { Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';

/** Same limit as undici (CVE fix after urllib3 GHSA-gm62-xv2j-4w53). */
export const MAX_CONTENT_ENCODINGS = 5;

// Be lenient like browsers and curl: Z_SYNC_FLUSH accepts slightly truncated streams.
const ZLIB = { flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH };
const BROTLI = { flush: zlib.constants.BROTLI_OPERATION_FLUSH, finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH };

/** `deflate` is meant to be zlib-wrapped, but servers send raw deflate too: the first byte tells. */
class Inflate extends Transform {
  #inner: zlib.Inflate | zlib.InflateRaw | undefined;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (!this.#inner) {
      if (chunk.length === 0) return callback();
      const inner = ((chunk[0] ?? 0) & 0x0f) === 0x08 ? zlib.createInflate(ZLIB) : zlib.createInflateRaw(ZLIB);
      inner.on('data', (data: Buffer) => this.push(data));
      inner.on('error', (error) => this.destroy(error));
      this.#inner = inner;
    }
    this.#inner.write(chunk, callback);
  }

  override _flush(callback: TransformCallback): void {
    if (!this.#inner) return callback();
    this.#inner.once('end', () => callback());
    this.#inner.end();
  }
}

type ZstdZlib = typeof zlib & { createZstdDecompress?: (options?: object) => Transform };

/**
 * The decoders for a `Content-Encoding` value, first to apply first; `[]` when the body is left as
 * it is. Throws when there are too many codings.
 */
export const decodersFor = (contentEncoding: string | null): Transform[] => {
  if (!contentEncoding) return [];
  const codings = contentEncoding.toLowerCase().split(',');
  if (codings.length > MAX_CONTENT_ENCODINGS) {
    throw new Error(`too many content-encodings in response: ${codings.length}, maximum allowed is ${MAX_CONTENT_ENCODINGS}`);
  }
  const decoders: Transform[] = [];
  for (let index = codings.length - 1; index >= 0; index--) {
    const coding = codings[index]?.trim();
    const zstd = (zlib as ZstdZlib).createZstdDecompress;
    if (coding === 'gzip' || coding === 'x-gzip') decoders.push(zlib.createGunzip(ZLIB));
    else if (coding === 'deflate') decoders.push(new Inflate());
    else if (coding === 'br') decoders.push(zlib.createBrotliDecompress(BROTLI));
    else if (coding === 'zstd' && zstd) {
      const constants = zlib.constants as unknown as Record<string, number>;
      decoders.push(zstd({ flush: constants.ZSTD_e_continue, finishFlush: constants.ZSTD_e_end }));
    } else return [];
  }
  return decoders;
};
