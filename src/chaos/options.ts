/** Public option types of `resilient-fetch/chaos` (see `src/chaos.ts`), TSDoc on every field. */
import type { FetchLike } from '../options.js';

/** What the functions of `ChaosOptions` see of a call: no body, so nothing of the request is consumed. */
export type ChaosRequest = {
  /** The request's URL, as given (`Request.url` for a `Request`). */
  readonly url: string;
  /** The method, upper-cased as fetch normalises it. */
  readonly method: string;
  /** A copy of the request's headers. */
  readonly headers: Headers;
  /** This call's 0-based position among the calls made through this chaos fetch. */
  readonly index: number;
};

/** A response to answer with, built fresh for each injection. */
export type ChaosOutcome = {
  /** HTTP status, 200–599. */
  status: number;
  /** @default the status's standard reason phrase */
  statusText?: string;
  headers?: HeadersInit;
  /** Not a stream: a stream can be read once, and the outcome is answered many times. @default null */
  body?: string | ArrayBuffer | ArrayBufferView | Blob | URLSearchParams | FormData | null;
};

/** What an injected call got, for `onInjected`. */
export type ChaosInjection = {
  readonly request: ChaosRequest;
  /** Milliseconds of latency added; 0 when none. */
  readonly latency: number;
  /** The error the call rejects with, when a fault is injected. */
  readonly fault?: Error;
  /** The status answered, when an outcome is injected. */
  readonly status?: number;
};

export type ChaosOptions = {
  /**
   * The fetch to wrap. @default `globalThis.fetch`, read at each call, so a mock (msw, nock) set up
   * after `chaos()` still answers.
   */
  fetch?: FetchLike;
  /**
   * Injection rate: the probability, 0 to 1, that a call is injected (Polly's `InjectionRate`), or a
   * function of the call (`InjectionRateGenerator`). Required: no default suits both a test (Polly's
   * 0.001 would show nothing) and a forgotten wrapper (1 would be an outage).
   * @example rate: (request) => (request.method === 'GET' ? 0.3 : 0)
   */
  rate: number | ((request: ChaosRequest) => number | Promise<number>);
  /**
   * Whether injection is on for a call (Polly's `Enabled` / `EnabledGenerator`). A call it turns
   * off passes through, and the injection schedule of the other calls does not move. @default true
   * @example enabled: (request) => new URL(request.url).pathname.startsWith('/orders')
   */
  enabled?: boolean | ((request: ChaosRequest) => boolean | Promise<boolean>);
  /** Seed of the injection schedule, an integer 0 to 2^32 − 1. @default a random one, readable as `.seed` */
  seed?: number;
  /**
   * Network error to throw (Polly's `Chaos.Fault`): `true` for fetch's `TypeError('fetch failed')` with
   * a cause coded `ECONNRESET`, as undici gives it; an error code (`'ECONNREFUSED'`, `'ETIMEDOUT'`,
   * ...) for the same with that code; an `Error`, thrown as is; or a function returning a fresh error
   * (`undefined`: no fault this time).
   * @example fault: (request) => (request.index % 2 ? new TypeError('fetch failed') : undefined)
   */
  fault?: true | string | Error | ((request: ChaosRequest) => Error | undefined);
  /**
   * Milliseconds to wait before answering or passing through (Polly's `Chaos.Latency`), or a function
   * of the call. The request's `signal` ends the wait, rejecting with `signal.reason`.
   * @example latency: (request) => 50 + request.index % 100
   */
  latency?: number | ((request: ChaosRequest) => number);
  /**
   * Response to answer with, without calling the wrapped fetch (Polly's `Chaos.Outcome`): status,
   * headers and body, or a function returning a `Response` (`undefined`: no outcome this time).
   * @example outcome: () => Response.json({ error: 'busy' }, { status: 429, headers: { 'retry-after': '1' } })
   */
  outcome?: ChaosOutcome | ((request: ChaosRequest) => Response | undefined | Promise<Response | undefined>);
  /** An action run first on an injected call (Polly's `Chaos.Behavior`); what it throws, the call rejects with. */
  behavior?: (request: ChaosRequest) => void | Promise<void>;
  /** Called once per injected call, before its latency, with what it gets. */
  onInjected?: (injection: ChaosInjection) => void;
};

/** Counts since `chaos()`; `passedThrough` is the number of calls that reached the wrapped fetch. */
export type ChaosStats = {
  calls: number;
  injected: number;
  faults: number;
  latencies: number;
  outcomes: number;
  behaviors: number;
  passedThrough: number;
};

export type ChaosFetch = ((input: string | URL | Request, init?: RequestInit) => Promise<Response>) & {
  /** The seed of this wrapper's schedule: pass it back as `seed` to replay a run. */
  readonly seed: number;
  stats(): ChaosStats;
};
