/**
 * The transport: the bottom of the pipeline. By default undici 7's own `fetch` on an `Agent` the
 * client owns, re-wrapped into the global `Response` (undici's is another realm: not `instanceof`
 * the global one). A user-supplied `fetch` (msw, a test double, instrumentation) is called as given.
 */
import { Agent, type Dispatcher, fetch as undiciFetch } from 'undici';
import { asFetchResponse } from '../internal/response.js';
import type { FetchLike } from '../options.js';
import { attemptHeaders, type Attempt, type Send } from '../pipeline/types.js';
import { linkedController } from '../internal/abort.js';

export interface Transport {
  readonly send: Send;
  close(): Promise<void>;
}

const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

/** Copies an undici `Response` into a global one: status, headers (each `set-cookie`), body stream, url, redirected. */
export const toGlobalResponse = (response: {
  status: number;
  statusText: string;
  headers: Iterable<[string, string]>;
  body: ReadableStream<Uint8Array> | null;
  url: string;
  redirected: boolean;
  type: string;
}): Response => {
  const body = NULL_BODY_STATUS.has(response.status) ? null : response.body;
  const wrapped = new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers as HeadersInit,
  });
  return asFetchResponse(wrapped, response.url === '' ? null : new URL(response.url), response.redirected, response.type);
};

/** A fresh one-chunk stream of `bytes`: fetch sends a stream body chunked, with no content-length. */
const streamOf = (bytes: Uint8Array): ReadableStream<Uint8Array> =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });

const initFor = (attempt: Attempt, copyBody: boolean): RequestInit & Record<string, unknown> => {
  const { request } = attempt;
  let body: BodyInit | null = request.stream ?? (request.body && copyBody ? request.body.slice() : request.body);
  const init: RequestInit & Record<string, unknown> = { ...request.init };
  if (request.chunked && request.body instanceof Uint8Array) {
    body = streamOf(copyBody ? request.body.slice() : request.body);
    init.duplex = 'half';
  }
  const spelling = request.headerSpelling;
  init.method = request.method;
  // The caller's spelling of header names: fetch sends them so.
  const headers = attemptHeaders(attempt);
  init.headers = (spelling ? headers.map(([name, value]) => [spelling[name] ?? name, value]) : headers) as Array<
    [string, string]
  >;
  init.body = body;
  init.signal = attempt.signal ?? null;
  return init;
};

/** undici's `fetch` on `agent`, re-wrapped into a global `Response`: the reference `Send`. */
export const fetchOnAgent = (agent: Dispatcher | (() => Dispatcher)): Send =>
  signalTimeout(async (attempt) => {
    const init = initFor(attempt, false);
    // A caller's own dispatcher wins over ours (Node's fetch extension).
    init.dispatcher ??= typeof agent === 'function' ? agent() : agent;
    // Note: undici's fetch tees a streamed request body to replay it on a redirect unless redirect is
    // 'error', so it holds a whole streamed upload in memory (nodejs/undici#4058). This transport keeps
    // fetch's semantics exactly; the dispatcher transport (the default) follows redirects without the copy.
    const response = await undiciFetch(attempt.url.href, init as Parameters<typeof undiciFetch>[1]);
    return toGlobalResponse(response as unknown as Parameters<typeof toGlobalResponse>[0]);
  });

/** Milliseconds `close()` lets in-flight requests and unread response bodies finish before destroying sockets. */
export const CLOSE_GRACE_MS = 1_000;

/** Requests the agent still runs or queues, over all origins. */
const busy = (agent: Agent): number => {
  let count = 0;
  for (const stats of Object.values(agent.stats)) count += (stats.running ?? 0) + (stats.pending ?? 0);
  return count;
};

/**
 * Lets running requests and unread response bodies finish for up to `graceMs`, then closes the pool;
 * what still runs after that is destroyed (its body errors), so `close()` always resolves and leaves
 * no socket behind. undici's `agent.destroy()` no longer errors in-flight bodies once `agent.close()`
 * was called, so close() is only called on an idle agent.
 */
export const closeAgent = async (agent: Agent, graceMs = CLOSE_GRACE_MS): Promise<void> => {
  const until = performance.now() + graceMs;
  while (busy(agent) > 0 && performance.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  if (busy(agent) > 0) await agent.destroy(new Error('resilient-fetch: client closed'));
  else await agent.close();
};

/**
 * undici's `fetch` on the client's own keep-alive `Agent`, or on the `dispatcher` chosen per call
 * (the client's option, else a process-wide one the user set; see `chooseDispatcher`).
 */
export const createUndiciTransport = (agentOptions: Agent.Options = {}, choose?: (own: Agent) => () => Dispatcher): Transport => {
  const agent = new Agent(agentOptions);
  return { send: fetchOnAgent(choose ? choose(agent) : agent), close: () => closeAgent(agent) };
};

/** A `Send` calling `call` as fetch is called: a URL string and an init holding a fresh copy of the body. */
export const sendThrough = (call: FetchLike): Send => signalTimeout((attempt) => call(attempt.url.href, initFor(attempt, true)));

/** A user-supplied `fetch`, called with a URL string and an init holding a fresh copy of the body. */
export const createInjectedTransport = (fetch: FetchLike): Transport => ({
  send: sendThrough(fetch),
  close: async () => {},
});

/**
 * For a transport that can only be stopped through a signal (undici's fetch, a user's `fetch`):
 * enforces `Attempt.timeout` by aborting a child of the attempt's signal, and sends the attempt
 * with that signal and without the timeout.
 */
export const signalTimeout =
  (send: Send): Send =>
  async (attempt) => {
    if (!attempt.timeout) {
      // fetch adds an abort listener per call to the signal it is given, kept until the request is
      // collected: a caller's signal shared by many calls would collect one per call. A dependent
      // signal takes them instead (AbortSignal.any links without a listener on the caller's).
      if (attempt.signal && attempt.request.callerSignal) return send({ ...attempt, signal: AbortSignal.any([attempt.signal]) });
      return send(attempt);
    }
    const { timeout, ...rest } = attempt;
    const linked = linkedController(attempt.signal, attempt.request.callerSignal === true);
    const timer = setTimeout(() => linked.abort(timeout.reason()), timeout.ms);
    try {
      return await send({ ...rest, signal: linked.signal });
    } finally {
      clearTimeout(timer);
      linked.release();
    }
  };
