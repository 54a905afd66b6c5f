/**
 * prepare: turns fetch's `(input, init)` into one immutable `PreparedRequest`. The body is read
 * once into bytes. A body larger than `maxBufferBytes` is sent on one attempt only: one whose length
 * is known (a string, URLSearchParams, bytes, a Blob) keeps it, as bytes or as the caller's Blob, so
 * it goes out with its `content-length` and follows a 307/308 as fetch's does; a stream is kept as a
 * stream that replays what was already read and then the rest.
 */
import type { Policy, ResolvedPolicy } from '../options.js';
import type { PreparedRequest } from './types.js';

/** `RequestInit` fields handed to the transport unchanged. */
const PASS_THROUGH = [
  'redirect',
  'credentials',
  'cache',
  'integrity',
  'keepalive',
  'mode',
  'referrer',
  'referrerPolicy',
  'priority',
  'dispatcher',
] as const;

/** Fetch upper-cases these, and only these (Fetch standard, "normalize a method"). */
const NORMALISED = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);
const normaliseMethod = (method: string): string => {
  const upper = method.toUpperCase();
  return NORMALISED.has(upper) ? upper : method;
};

const headerPairs = (headers: Headers): Array<readonly [string, string]> => {
  const pairs: Array<readonly [string, string]> = [];
  headers.forEach((value, name) => {
    if (name === 'set-cookie') return; // never sent by a client; Headers joins it anyway
    pairs.push([name, value]);
  });
  return pairs;
};

/** fetch's message for a URL it cannot parse (the URL parser's error kept as `cause`). */
const parseUrl = (input: string | URL): URL => {
  try {
    return new URL(input);
  } catch (cause) {
    throw new TypeError(`Failed to parse URL from ${String(input)}`, { cause });
  }
};

/**
 * Header names as the caller spelled them (first spelling of each name wins, as in fetch's header
 * list), keyed by the lower-cased name; undefined when every name is lower-case already. Fetch
 * sends names in the caller's case. A `Headers` object hides its spelling (it iterates lower-cased):
 * such names go out lower-cased.
 */
const headerSpelling = (init: unknown): Record<string, string> | undefined => {
  if (typeof init !== 'object' || init === null || init instanceof Headers) return undefined;
  const names = Array.isArray(init) ? init.map((pair) => String((pair as unknown[])[0])) : Object.keys(init);
  let spelling: Record<string, string> | undefined;
  let lowerFirst: Set<string> | undefined; // names first written lower-case keep that spelling
  for (const name of names) {
    const lower = name.toLowerCase();
    if (lower === name) (lowerFirst ??= new Set()).add(lower);
    else if (!lowerFirst?.has(lower) && spelling?.[lower] === undefined) {
      (spelling ??= Object.create(null) as Record<string, string>)[lower] = name;
    }
  }
  return spelling;
};

/** A body fetch sends with `transfer-encoding: chunked`: a stream or an async iterable, length unknown. */
const isStreamBody = (body: unknown): boolean => typeof body === 'object' && body !== null && Symbol.asyncIterator in body;

type Body = { bytes: Uint8Array<ArrayBuffer> | Blob | null; stream: ReadableStream<Uint8Array> | null };

/**
 * Reads `stream` up to `max` bytes; past that, returns a stream of what was read plus the rest.
 * `signal` (the caller's abort, the total timeout) stops the read; without one (no caller's signal
 * and `timeout.total: false`) nothing is meant to stop it, as with fetch.
 */
const readBody = async (stream: ReadableStream<Uint8Array>, max: number, signal: AbortSignal | undefined): Promise<Body> => {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  const onAbort = () => void reader.cancel(signal?.reason).catch(() => {});
  // Already aborted: fetch cancels the body with the reason and sends nothing.
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await readChunks(reader, chunks, max, signal);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
};

const readChunks = async (
  reader: ReadableStreamDefaultReader<Uint8Array>,
  chunks: Uint8Array[],
  max: number,
  signal: AbortSignal | undefined,
): Promise<Body> => {
  let total = 0;
  for (;;) {
    signal?.throwIfAborted();
    let next: ReadableStreamReadResult<Uint8Array>;
    try {
      next = await reader.read();
    } catch (cause) {
      signal?.throwIfAborted();
      // The source failed: fetch rejects with its network error, the source's error as cause.
      throw new TypeError('fetch failed', { cause });
    }
    signal?.throwIfAborted();
    const { done, value } = next;
    if (done) break;
    chunks.push(value);
    total += value.byteLength;
    if (total > max) return { bytes: null, stream: replayThenRest(chunks, reader) };
  }
  if (chunks.length === 1) return { bytes: chunks[0] as Uint8Array<ArrayBuffer>, stream: null };
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { bytes, stream: null };
};

const replayThenRest = (head: Uint8Array[], reader: ReadableStreamDefaultReader<Uint8Array>): ReadableStream<Uint8Array> =>
  new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = head.shift();
      if (next) {
        controller.enqueue(next);
        return;
      }
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });

const encoder = new TextEncoder();

/**
 * Bodies whose length is known without building a `Request`, with fetch's content-type for each:
 * strings, URLSearchParams and bytes as bytes, a Blob as itself (read once its size is checked).
 */
const quickBody = (body: unknown): { bytes: Uint8Array<ArrayBuffer> | Blob; type?: string } | undefined => {
  if (typeof body === 'string')
    return { bytes: encoder.encode(body) as Uint8Array<ArrayBuffer>, type: 'text/plain;charset=UTF-8' };
  if (body instanceof URLSearchParams) {
    return {
      bytes: encoder.encode(body.toString()) as Uint8Array<ArrayBuffer>,
      type: 'application/x-www-form-urlencoded;charset=UTF-8',
    };
  }
  if (body instanceof Blob) return { bytes: body, ...(body.type !== '' && { type: body.type }) };
  // Copy: the caller may reuse its buffer once fetch has returned, as fetch allows. Through a
  // Uint8Array of the view's own range: a Buffer's `slice()` (and a subclass's) is a view, not a copy.
  if (ArrayBuffer.isView(body) && body.buffer instanceof ArrayBuffer) {
    return { bytes: new Uint8Array(body.buffer, body.byteOffset, body.byteLength).slice() };
  }
  if (body instanceof ArrayBuffer) return { bytes: new Uint8Array(body.slice(0)) };
  return undefined;
};

let dispatcherKey: symbol | undefined;
/** The dispatcher a `Request` was constructed with (Node's fetch extension), if any. */
const requestDispatcher = (request: Request): unknown => {
  dispatcherKey ??= Object.getOwnPropertySymbols(request).find((symbol) => symbol.description === 'dispatcher');
  return dispatcherKey && (request as unknown as Record<symbol, unknown>)[dispatcherKey];
};

export type RequestInitWithPolicy = RequestInit & { policy?: Policy; dispatcher?: unknown };

export type PrepareContext = {
  resolve(url: URL, override?: Policy): ResolvedPolicy;
  /**
   * Builds the call's signal from the caller's and the total timeout; see client.ts. With
   * `readsStream`, a body is about to be read from a stream and the total timeout must be able to
   * stop that: the signal is then always made.
   */
  signal(
    caller: AbortSignal | null | undefined,
    policy: ResolvedPolicy,
    readsStream: boolean,
  ): { signal: AbortSignal | undefined; deadline: number; timeLimit?: number };
};

/** Normalises a fetch call. Rejects as fetch would (a `TypeError`) for an invalid URL, method or header. */
export const prepareRequest = async (
  input: string | URL | Request,
  init: RequestInitWithPolicy | undefined,
  context: PrepareContext,
): Promise<PreparedRequest> => {
  const isRequest = input instanceof Request;
  const passThrough: Record<string, unknown> = {};
  let url: URL;
  let method: string;
  let headers: Headers | undefined;
  let body: Body = { bytes: null, stream: null };
  let callerSignal: AbortSignal | null | undefined = init?.signal;
  let source: ReadableStream<Uint8Array> | null = null;
  let quick: ReturnType<typeof quickBody>;
  const spelling = init?.headers === undefined ? undefined : headerSpelling(init.headers);
  const chunked = isStreamBody(init?.body);

  if (!isRequest && (init?.body === undefined || init.body === null || (quick = quickBody(init.body)))) {
    url = parseUrl(input as string | URL);
    if (url.username || url.password) {
      throw new TypeError(`Request cannot be constructed from a URL that includes credentials: ${url.origin}`);
    }
    method = normaliseMethod(init?.method ?? 'GET');
    if (init?.headers !== undefined) headers = new Headers(init.headers);
    if (quick) {
      if ((method === 'GET' || method === 'HEAD') && quick) {
        throw new TypeError('Request with GET/HEAD method cannot have body.');
      }
      body = { bytes: quick.bytes, stream: null };
      if (quick.type && !headers?.has('content-type')) (headers ??= new Headers()).set('content-type', quick.type);
    }
    if (init)
      for (const key of PASS_THROUGH)
        if (init[key as keyof RequestInit] !== undefined) passThrough[key] = init[key as keyof RequestInit];
  } else {
    // Everything else goes through the global Request, which applies fetch's own rules
    // (content-type of FormData, URLSearchParams and Blob bodies; Request + init merging).
    const { policy: _policy, signal, dispatcher, ...rest } = init ?? {};
    const request = new Request(input, rest);
    if (isRequest) callerSignal = signal ?? input.signal;
    url = new URL(request.url);
    method = request.method;
    headers = request.headers;
    source = request.body;
    for (const key of PASS_THROUGH) {
      if (key === 'dispatcher') continue;
      // From the caller's init when the input is not a Request: the Request fills in every default
      // (redirect 'follow', ...), which would hide what the caller left unset.
      const value = isRequest ? (request as unknown as Record<string, unknown>)[key] : init?.[key as keyof RequestInit];
      if (value !== undefined) passThrough[key] = value;
    }
    // A Request built with a dispatcher keeps it under undici's `Symbol('dispatcher')`.
    const own = dispatcher ?? (isRequest ? requestDispatcher(request) : undefined);
    if (own !== undefined) passThrough.dispatcher = own;
  }

  const policy = context.resolve(url, init?.policy);
  const { signal, deadline, timeLimit } = context.signal(callerSignal, policy, source !== null);
  // Over maxBufferBytes with a known length: sent once, as it is (see the file comment).
  let oversized = false;
  if (source) body = await readBody(source, policy.maxBufferBytes, signal);
  else if (body.bytes) {
    oversized = (body.bytes instanceof Blob ? body.bytes.size : body.bytes.byteLength) > policy.maxBufferBytes;
    if (!oversized && body.bytes instanceof Blob) body = { bytes: new Uint8Array(await body.bytes.arrayBuffer()), stream: null };
  }
  if (body.stream) passThrough.duplex = 'half';

  return Object.freeze({
    url,
    method,
    headers: headers ? headerPairs(headers) : [],
    headerSpelling: spelling,
    chunked: chunked && body.bytes !== null,
    body: body.bytes,
    stream: body.stream,
    replayable: body.stream === null && !oversized,
    init: Object.freeze(passThrough),
    policy,
    signal,
    deadline,
    ...(timeLimit !== undefined && { timeLimit }),
    callerSignal: Boolean(callerSignal),
  });
};
