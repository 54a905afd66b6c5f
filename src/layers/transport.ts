/**
 * The transport: the bottom of the pipeline. By default undici 7's own `fetch` on an `Agent` the
 * client owns, re-wrapped into the global `Response` (undici's is another realm: not `instanceof`
 * the global one). A user-supplied `fetch` (msw, a test double, instrumentation) is called as given.
 */
import { Agent, fetch as undiciFetch } from 'undici';
import type { FetchLike } from '../options.js';
import type { Attempt, Send } from './layer.js';

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
  Object.defineProperties(wrapped, {
    url: { value: response.url, enumerable: true },
    redirected: { value: response.redirected, enumerable: true },
    type: { value: response.type, enumerable: true },
  });
  return wrapped;
};

const initFor = (attempt: Attempt, copyBody: boolean): RequestInit & Record<string, unknown> => {
  const { request } = attempt;
  const body = request.stream ?? (request.body && copyBody ? request.body.slice() : request.body);
  return {
    ...request.init,
    method: request.method,
    headers: request.headers as Array<[string, string]>,
    body,
    signal: attempt.signal,
  };
};

/** undici's `fetch` on the client's own keep-alive `Agent`. */
export const createUndiciTransport = (agentOptions: Agent.Options = {}): Transport => {
  const agent = new Agent(agentOptions);
  return {
    send: async (attempt) => {
      const init = initFor(attempt, false);
      // A caller's own dispatcher wins over ours (Node's fetch extension).
      init.dispatcher ??= agent;
      // undici's fetch tees a request body to replay it on a redirect unless redirect is 'error', and so keeps
      // a whole streamed upload in memory (nodejs/undici#4058). A streamed body cannot be replayed on a
      // 307/308 anyway: unless the caller chose a redirect mode, a streamed body is sent with 'error'.
      if (attempt.request.stream && init.redirect === undefined) init.redirect = 'error';
      const response = await undiciFetch(attempt.url.href, init as Parameters<typeof undiciFetch>[1]);
      return toGlobalResponse(response as unknown as Parameters<typeof toGlobalResponse>[0]);
    },
    close: () => agent.close(),
  };
};

/** A user-supplied `fetch`, called with a URL string and an init holding a fresh copy of the body. */
export const createInjectedTransport = (fetch: FetchLike): Transport => ({
  send: (attempt) => fetch(attempt.url.href, initFor(attempt, true)),
  close: async () => {},
});
