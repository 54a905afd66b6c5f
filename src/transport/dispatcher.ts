/**
 * The dispatcher transport: each attempt goes straight through `Agent.dispatch` on the client's own
 * undici 7 `Agent`, and the answer is built into a global `Response`. It keeps what Node users rely
 * on from fetch (the request headers undici's fetch adds, redirects, decompression, null bodies,
 * aborts at every stage, `TypeError('fetch failed', { cause })`) without the WHATWG machinery's
 * cost. Whatever it cannot do exactly as fetch does goes to the reference transport
 * (`fetchOnAgent`, undici's own fetch on the same Agent): a fast path, never a different behaviour.
 */
import type { Transform } from 'node:stream';
import { pipeline, Readable } from 'node:stream';
import { Agent, Dispatcher } from 'undici';
import { offAbort, onAbort as watchAbort } from '../internal/abort.js';
import { toLegacyHandler } from '../internal/legacy-handler.js';
import { processDispatcher } from '../internal/process-net.js';
import { asFetchResponse } from '../internal/response.js';
import { decodersFor } from './decompress.js';
import { attemptHeaders, type Attempt, type Send } from '../pipeline/types.js';
import { nextHop, REDIRECT_STATUS, type Hop } from './redirect.js';
import { closeAgent, fetchOnAgent, type Transport } from './index.js';

/** undici's fetch sends `undici` when it is not bundled into Node (Node's own says `node`). */
const USER_AGENT = 'undici';
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);
const CONDITIONAL = ['if-modified-since', 'if-none-match', 'if-unmodified-since', 'if-match', 'if-range'];
const FORBIDDEN_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);
const METHOD_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Default `referrer` values: no `Referer` header is sent for them. */
const NO_REFERRER = new Set([undefined, '', 'about:client']);

/**
 * True when fetch would do something this transport does not: other URL schemes, a caller's own
 * dispatcher, subresource integrity, modes other than `cors`, a cache mode, an explicit referrer.
 */
export const needsReference = (attempt: Attempt): boolean => {
  const { protocol } = attempt.url;
  if (protocol !== 'http:' && protocol !== 'https:') return true;
  // Fetch rejects these methods itself; let it say so in its own words.
  if (!METHOD_TOKEN.test(attempt.request.method) || FORBIDDEN_METHODS.has(attempt.request.method.toUpperCase())) return true;
  const init = attempt.request.init;
  if (init.dispatcher !== undefined) return true;
  if (init.integrity !== undefined && init.integrity !== '') return true;
  if (init.mode !== undefined && init.mode !== 'cors') return true;
  if (init.cache !== undefined && init.cache !== 'default') return true;
  if (!NO_REFERRER.has(init.referrer as string | undefined)) return true;
  const redirect = init.redirect;
  return redirect !== undefined && redirect !== 'follow' && redirect !== 'manual' && redirect !== 'error';
};

const has = (headers: ReadonlyArray<readonly [string, string]>, name: string) => headers.some(([key]) => key === name);

/** The caller's headers plus what undici's fetch adds on every request ("main fetch"). */
const requestHeaders = (headers: ReadonlyArray<readonly [string, string]>): Array<readonly [string, string]> => {
  const list = headers.filter(([name]) => name !== 'sec-fetch-mode');
  if (!has(list, 'accept')) list.push(['accept', '*/*']);
  if (!has(list, 'accept-language')) list.push(['accept-language', '*']);
  return list;
};

/**
 * Flat `[name, value, ...]` for one hop, with what undici's fetch adds per hop ("HTTP-network-or-cache
 * fetch"); the caller's names in the caller's spelling, as fetch sends them.
 */
const wireHeaders = (hop: Hop, spelling: Readonly<Record<string, string>> | undefined): string[] => {
  const flat: string[] = [];
  for (const [name, value] of hop.headers) if (name !== 'host') flat.push(spelling?.[name] ?? name, value);
  flat.push('sec-fetch-mode', 'cors');
  if (!has(hop.headers, 'user-agent')) flat.push('user-agent', USER_AGENT);
  if (CONDITIONAL.some((name) => has(hop.headers, name))) {
    if (!has(hop.headers, 'pragma')) flat.push('pragma', 'no-cache');
    if (!has(hop.headers, 'cache-control')) flat.push('cache-control', 'no-cache');
  }
  if (has(hop.headers, 'range')) flat.push('accept-encoding', 'identity');
  else if (!has(hop.headers, 'accept-encoding')) {
    flat.push('accept-encoding', hop.url.protocol === 'https:' ? 'br, gzip, deflate' : 'gzip, deflate');
  }
  // A caller's stream goes out chunked, as fetch sends it (its bytes are buffered for replay only).
  if (!has(hop.headers, 'content-length') && !hop.chunked) {
    if (hop.body) flat.push('content-length', String(hop.body instanceof Blob ? hop.body.size : hop.body.byteLength));
    else if (!hop.stream && (hop.method === 'POST' || hop.method === 'PUT')) flat.push('content-length', '0');
  }
  return flat;
};

const fetchFailed = (cause: unknown) => new TypeError('fetch failed', { cause });

/**
 * What undici's fetch hands `performance.markResourceTiming` (its "fetch timing info"), filled
 * once per attempt: the same `PerformanceResourceTiming` entry Node's fetch records, at the end of
 * the body. Times are `performance.now()` values; no connection timing (undici's Dispatcher API does
 * not report it per request).
 */
type TimingInfo = {
  startTime: number;
  redirectStartTime: number;
  redirectEndTime: number;
  postRedirectStartTime: number;
  finalServiceWorkerStartTime: number;
  finalNetworkRequestStartTime: number;
  finalNetworkResponseStartTime: number;
  endTime: number;
  encodedBodySize: number;
  decodedBodySize: number;
  finalConnectionTimingInfo: null;
};

type Timing = { readonly url: string; readonly info: TimingInfo; status: number };

const markResourceTiming = (performance as unknown as { markResourceTiming?: (...args: unknown[]) => unknown })
  .markResourceTiming;

const startTiming = (url: string): Timing => {
  const now = performance.now();
  return {
    url,
    status: 0,
    info: {
      startTime: now,
      redirectStartTime: 0,
      redirectEndTime: 0,
      postRedirectStartTime: now,
      finalServiceWorkerStartTime: 0,
      finalNetworkRequestStartTime: now,
      finalNetworkResponseStartTime: 0,
      endTime: 0,
      encodedBodySize: 0,
      decodedBodySize: 0,
      finalConnectionTimingInfo: null,
    },
  };
};

/** Records the entry, as undici's fetch does when the response body is done. */
const endTiming = (timing: Timing): void => {
  if (!markResourceTiming) return;
  const { info } = timing;
  info.endTime = performance.now();
  const body = { encodedBodySize: info.encodedBodySize, decodedBodySize: info.decodedBodySize };
  markResourceTiming.call(performance, info, timing.url, 'fetch', globalThis, '', body, timing.status);
};

/** Response header pairs from undici's raw headers, every `set-cookie` kept. */
const headerPairs = (controller: Dispatcher.DispatchController, parsed: Record<string, unknown>): string[][] => {
  const raw = controller.rawHeaders;
  const pairs: string[][] = [];
  if (Array.isArray(raw)) {
    for (let index = 0; index + 1 < raw.length; index += 2) {
      const name = raw[index] as Buffer | string;
      pairs.push([name.toString('latin1').toLowerCase(), (raw[index + 1] as Buffer | string).toString('latin1')]);
    }
    return pairs;
  }
  for (const [name, value] of Object.entries(parsed)) {
    for (const one of Array.isArray(value) ? value : [value]) pairs.push([name, String(one)]);
  }
  return pairs;
};

const headerValue = (pairs: string[][], name: string): string | null => {
  const values = pairs.filter((pair) => pair[0] === name).map((pair) => pair[1]);
  return values.length ? values.join(', ') : null;
};

type Outcome =
  { readonly response: Response } | { readonly redirect: { readonly status: number; readonly location: string | null } };

/** A web stream as the Node stream undici's dispatch sends (a Blob's with its content-length, see wireHeaders). */
const webStream = (stream: ReadableStream<Uint8Array> | null): Readable | null =>
  stream && Readable.fromWeb(stream as import('node:stream/web').ReadableStream<Uint8Array>);

const toBytes = (chunk: Buffer): Uint8Array => new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);

/**
 * One request on the wire: resolves at the response headers; the body streams on. `onStop` receives
 * the function that ends this hop with a reason (the attempt's timeout calls it).
 */
const dispatchHop = (
  { dispatcher: agent, legacy }: Route,
  hop: Hop,
  signal: AbortSignal | undefined,
  redirectMode: string,
  onStop: (stop: (reason: unknown) => void) => void,
  spelling: Readonly<Record<string, string>> | undefined,
  timing: Timing,
): Promise<Outcome> =>
  new Promise<Outcome>((resolve, reject) => {
    let controller: Dispatcher.DispatchController | undefined;
    let body: ReadableStreamDefaultController<Uint8Array> | undefined;
    let decoders: Transform[] = [];
    let started = false; // response headers seen
    let finished = false; // nothing more to deliver to the caller
    const finish = () => {
      finished = true;
      if (signal) offAbort(signal, onAbort);
    };
    /** The body is done: the caller has every byte (fetch's "process response end-of-body"). */
    const complete = () => {
      finish();
      endTiming(timing);
    };
    const fail = (error: unknown) => {
      if (finished) return;
      finish();
      for (const decoder of decoders) decoder.destroy();
      if (!started) reject(error);
      else body?.error(error);
      if (controller && !controller.aborted) controller.abort(error instanceof Error ? error : new Error(String(error)));
    };
    const onAbort = () => fail(signal?.reason);
    if (signal && !signal.aborted) watchAbort(signal, onAbort);
    onStop(fail);

    const startBody = (status: number, pairs: string[][]): ReadableStream<Uint8Array> | null => {
      if (hop.method === 'HEAD' || NULL_BODY_STATUS.has(status)) {
        complete();
        return null;
      }
      decoders = decodersFor(headerValue(pairs, 'content-encoding'));
      const head = decoders[0];
      const tail = decoders.at(-1);
      return new ReadableStream<Uint8Array>(
        {
          start: (stream) => {
            body = stream;
            if (!head || !tail) return;
            if (decoders.length > 1) pipeline(decoders, () => {});
            for (const decoder of decoders) decoder.on('error', (error) => fail(new TypeError('terminated', { cause: error })));
            head.on('drain', () => controller?.resume());
            tail.on('data', (chunk: Buffer) => {
              if (finished || chunk.length === 0) return;
              timing.info.decodedBodySize += chunk.length;
              stream.enqueue(toBytes(chunk));
              if ((stream.desiredSize ?? 1) <= 0) tail.pause();
            });
            tail.on('end', () => {
              if (finished) return;
              complete();
              stream.close();
            });
          },
          pull: () => {
            if (tail) tail.resume();
            else controller?.resume();
          },
          cancel: (reason) => {
            if (finished) return;
            finish();
            for (const decoder of decoders) decoder.destroy();
            controller?.abort(reason instanceof Error ? reason : new DOMException('The body was cancelled', 'AbortError'));
          },
        },
        // Counted in chunks (a size function costs on every enqueue): at most 4 socket reads queued.
        { highWaterMark: 4 },
      );
    };

    const handler: Dispatcher.DispatchHandler = {
      onRequestStart: (dispatch) => {
        controller = dispatch;
        if (finished) dispatch.abort(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      },
      onResponseStart: (dispatch, status, parsed, statusText = '') => {
        if (finished || status < 200) return;
        // undici's fetch implements no proxy authentication: a 407 is a network error.
        if (status === 407) return fail(fetchFailed(new Error('proxy authentication required')));
        timing.status = status;
        timing.info.finalNetworkResponseStartTime = performance.now();
        const pairs = headerPairs(dispatch, parsed as Record<string, unknown>);
        if (REDIRECT_STATUS.has(status) && redirectMode !== 'manual') {
          const location = headerValue(pairs, 'location');
          if (redirectMode === 'error' || location !== null) {
            // Like undici's fetch: the redirect's connection is not reused, its body is not read.
            finish();
            started = true;
            dispatch.abort(new Error('redirect'));
            resolve({ redirect: { status, location } });
            return;
          }
        }
        let response: Response;
        try {
          response = new Response(startBody(status, pairs), { status, statusText, headers: pairs as Array<[string, string]> });
        } catch (error) {
          finished = false; // a bodiless response has finished already: the call must still settle
          fail(fetchFailed(error));
          return;
        }
        started = true;
        resolve({ response: asFetchResponse(response, hop.url, hop.count > 0, 'basic') });
      },
      onResponseData: (dispatch, chunk) => {
        // undici's parser reports an empty body span when it is resumed with nothing new to parse.
        // Queued, it would take a slot of the chunk-counted queue and pause the parser again with
        // no byte delivered: every later read gets an empty chunk and the body never moves on.
        if (finished || !body || chunk.length === 0) return;
        timing.info.encodedBodySize += chunk.length;
        const head = decoders[0];
        if (!head) timing.info.decodedBodySize += chunk.length;
        if (head) {
          if (!head.write(chunk)) dispatch.pause();
          return;
        }
        body.enqueue(toBytes(chunk));
        if ((body.desiredSize ?? 1) <= 0) dispatch.pause();
      },
      onResponseEnd: () => {
        if (finished) return;
        const head = decoders[0];
        if (head) head.end();
        else {
          complete();
          body?.close();
        }
      },
      onResponseError: (_dispatch, error) => {
        if (finished) return;
        fail(started ? new TypeError('terminated', { cause: error }) : fetchFailed(error));
      },
    };

    if (signal?.aborted) return onAbort();
    // `/p?` keeps its empty query, tested exactly as undici's fetch tests it.
    const { href, hash, search } = hop.url;
    const path = hop.url.pathname + search + (search === '' && href[href.length - hash.length - 1] === '?' ? '?' : '');
    try {
      agent.dispatch(
        {
          origin: hop.url.origin,
          path,
          method: hop.method,
          headers: wireHeaders(hop, spelling),
          // An iterable has no known length: undici sends it chunked, as fetch sends a stream
          // (undici's dispatch takes any iterable body; its types list only a few).
          body:
            hop.body && hop.chunked
              ? ([hop.body] as unknown as Readable)
              : hop.body instanceof Blob
                ? webStream(hop.body.stream())
                : (hop.body ?? webStream(hop.stream)),
        },
        legacy ? toLegacyHandler(handler) : handler,
      );
    } catch (error) {
      fail(fetchFailed(error));
    }
  });

/** Sends one attempt, following redirects as fetch does; `Attempt.timeout` spans every hop. */
const sendOnAgent =
  (choose: () => Route, reference: Send): Send =>
  async (attempt) => {
    if (needsReference(attempt)) return reference(attempt);
    const route = choose();
    const { request, signal, timeout } = attempt;
    signal?.throwIfAborted();
    // The attempt's timeout is a timer here, not an AbortSignal: it ends the hop in flight directly.
    let expired: { readonly reason: unknown } | undefined;
    let stop: ((reason: unknown) => void) | undefined;
    const timer =
      timeout &&
      setTimeout(() => {
        expired = { reason: timeout.reason() };
        stop?.(expired.reason);
      }, timeout.ms);
    const redirectMode = (request.init.redirect as string | undefined) ?? 'follow';
    let hop: Hop = {
      url: attempt.url,
      method: request.method,
      headers: requestHeaders(attemptHeaders(attempt)),
      body: request.body,
      stream: request.stream,
      chunked: request.chunked === true,
      count: 0,
    };
    const timing = startTiming(attempt.url.href);
    try {
      for (;;) {
        if (expired) throw expired.reason;
        const outcome = await dispatchHop(
          route,
          hop,
          signal,
          redirectMode,
          (fail) => (stop = fail),
          request.headerSpelling,
          timing,
        );
        stop = undefined; // past this hop's headers: its body is never the timeout's to end
        if ('response' in outcome) return outcome.response;
        const { status, location } = outcome.redirect;
        if (redirectMode === 'error' || location === null) throw fetchFailed(new Error('unexpected redirect'));
        try {
          hop = nextHop(hop, status, location);
        } catch (cause) {
          throw fetchFailed(cause);
        }
      }
    } finally {
      clearTimeout(timer);
    }
  };

/** Where an attempt is dispatched; `legacy` when the dispatcher may be another undici's (undici 6 speaks only the legacy handler API). */
export type Route = { readonly dispatcher: Dispatcher; readonly legacy: boolean };

/**
 * Chooses the dispatcher per attempt, as Node's fetch would: the client's `dispatcher` option, else
 * the process-wide dispatcher when the user or Node's env proxy support set one (read per call, so
 * set-up order does not matter), else the client's own pool. A caller's `init.dispatcher` goes to
 * the reference transport before this is asked.
 */
export const chooseDispatcher = (own: Agent, option?: Dispatcher): (() => Route) => {
  const ownRoute: Route = { dispatcher: own, legacy: false };
  if (option) {
    const route: Route = { dispatcher: option, legacy: !(option instanceof Dispatcher) };
    return () => route;
  }
  let seen: Dispatcher | undefined;
  let seenRoute = ownRoute;
  return () => {
    const global = processDispatcher();
    if (global === undefined) return ownRoute;
    if (global !== seen) {
      seen = global;
      seenRoute = { dispatcher: global, legacy: !(global instanceof Dispatcher) };
    }
    return seenRoute;
  };
};

/**
 * The fast transport on its own keep-alive `Agent` (or the `dispatcher` given, which stays the
 * caller's: `close()` leaves it open); the reference transport chooses the same dispatcher.
 */
export const createDispatcherTransport = (agentOptions: Agent.Options = {}, dispatcher?: Dispatcher): Transport => {
  const agent = new Agent(agentOptions);
  const choose = chooseDispatcher(agent, dispatcher);
  return {
    send: sendOnAgent(
      choose,
      fetchOnAgent(() => choose().dispatcher),
    ),
    close: () => closeAgent(agent),
  };
};
