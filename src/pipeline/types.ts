/**
 * The layer contract (undici's interceptor shape): a layer takes the next `Send` and returns its own.
 * `compose(a, b, c)(send)` is `a(b(c(send)))`: `a` sees the call first.
 */
import type { Emit } from '../diagnostics.js';
import type { HostStates } from './host-state.js';
import type { ResolvedPolicy } from '../options.js';

/** One request as the caller described it, normalised once and never changed. */
export interface PreparedRequest {
  /** The caller's URL. Attempts may go elsewhere (`upstreams`); see `Attempt.url`. */
  readonly url: URL;
  /** As fetch normalises it: standard methods upper-cased, others as given. */
  readonly method: string;
  /** Header pairs in order, names lower-cased, `content-type` of the body included. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  /** The caller's spelling of header names that are not lower-case (lower-cased name → name): fetch sends them so. */
  readonly headerSpelling?: Readonly<Record<string, string>> | undefined;
  /**
   * The caller's body was a stream (length unknown): its buffered bytes go out with
   * `transfer-encoding: chunked`, as fetch sends a stream, and a 307/308 cannot resend it.
   */
  readonly chunked?: boolean;
  /**
   * The body's bytes, read once. Over `maxBufferBytes` with a known length (a string, bytes, a
   * Blob): those bytes or the caller's Blob, sent on one attempt only (`replayable` false) with its
   * `content-length`, and sent again for a 307/308 as fetch does. `null` when there is no body or it
   * is a stream over `maxBufferBytes` (see `stream`).
   */
  readonly body: Uint8Array<ArrayBuffer> | Blob | null;
  /** A stream body larger than `maxBufferBytes`: sent once, as a stream, never replayed. */
  readonly stream: ReadableStream<Uint8Array> | null;
  /** False when the body cannot be sent twice: such a call is neither retried nor hedged. */
  readonly replayable: boolean;
  /** Other `RequestInit` fields passed to the transport as given (`redirect`, `dispatcher`, ...). */
  readonly init: Readonly<Record<string, unknown>>;
  readonly policy: ResolvedPolicy;
  /**
   * Aborts on the caller's abort (with its reason) and on the total timeout (`TimeoutError`).
   * Undefined when the caller gave no signal and no body had to be read from a stream: nothing but
   * the total timeout can end such a call, and the layers keep it through `deadline` instead (the
   * timeout layer arms each attempt for whichever comes first, the retry layer never sleeps past
   * it). An AbortSignal costs more to create on Node 20 than the rest of a call's layers together.
   */
  readonly signal: AbortSignal | undefined;
  /** `performance.now()` by which the call must have its response headers (Infinity: none). */
  readonly deadline: number;
  /**
   * Milliseconds from the call's start to `deadline` (its total timeout, or less when an enclosing
   * `runWithDeadline` ends first), for the timeout error's message. Unset: `policy.timeout.total`.
   */
  readonly timeLimit?: number;
  /** True when the caller gave a signal: child signals must then stay linked past the call (see internal/abort.ts). */
  readonly callerSignal?: boolean;
}

/** One send of a request: the first try, a retry, or a hedge. */
export interface Attempt {
  readonly request: PreparedRequest;
  /** Where this attempt goes (the caller's URL, or the same path on an upstream). */
  readonly url: URL;
  /** Aborts this attempt only (and everything `request.signal` aborts); see `PreparedRequest.signal`. */
  readonly signal: AbortSignal | undefined;
  /** 0 for the first attempt: OpenTelemetry's `http.request.resend_count`. */
  readonly number: number;
  /** Hedge branch: 0 for the primary. */
  readonly branch: number;
  /** Set by the timeout layer; see `AttemptTimeout`. */
  readonly timeout?: AttemptTimeout;
  /**
   * Headers of this attempt only (the propagation layer's deadline and attempt number), sent after
   * the request's own and in place of any of the same name. Lower-case names.
   */
  readonly headers?: ReadonlyArray<readonly [string, string]>;
}

/** The header pairs an attempt sends: the request's, with the attempt's own in place of any of the same name. */
export const attemptHeaders = (attempt: Attempt): ReadonlyArray<readonly [string, string]> => {
  const own = attempt.headers;
  if (own === undefined || own.length === 0) return attempt.request.headers;
  const names = new Set(own.map(([name]) => name));
  return [...attempt.request.headers.filter(([name]) => !names.has(name)), ...own];
};

/**
 * How long an attempt may wait for its response headers (redirects included). The transport must
 * reject with `reason()` once `ms` have passed without them, and stop the request. The dispatcher
 * transport keeps a timer of its own; the others wrap their send in `signalTimeout` (timeout.ts),
 * which turns this into an abort of the attempt's signal. (An AbortController per attempt, just in
 * case, cost about a tenth of a call's CPU on Node 20.)
 */
export interface AttemptTimeout {
  readonly ms: number;
  readonly reason: () => DOMException;
}

export type Send = (attempt: Attempt) => Promise<Response>;
export type Layer = (next: Send) => Send;

/**
 * What the layers above the breaker may ask about an origin (the upstream layer skips refused
 * origins). Provided by the origin's state record; no layer asks another.
 */
export interface OriginView {
  /** True when the origin's breaker would refuse a call now (open, or half-open with its probe out). */
  isOpen(): boolean;
  /** Milliseconds until the origin's breaker lets a probe through; 0 when it would let a call through now. */
  reopensIn(): number;
}

/** What the client gives each layer factory. */
export interface LayerContext {
  readonly emit: Emit;
  /** Every origin's state record: `get` makes it on first use, `peek` never does. */
  readonly hosts: HostStates;
  /**
   * Runs `end` once the call of `request` has settled (its response or error handed to the caller),
   * in the order registered. For what can only be judged per call (the breaker counts calls).
   */
  onCallEnd(request: PreparedRequest, end: () => void): void;
  /**
   * Aborts the moment `close()` is called, before the pool closes. Whatever a call waits for besides
   * the network (a back-off sleep, a hedge delay) ends on it, so every pending call settles promptly.
   * Always set by the client; optional for layer tests that never close.
   */
  readonly closing?: AbortSignal;
}

/** Folds layers into one `Send`; rejects anything that is not a function. */
export const compose =
  (...layers: Layer[]) =>
  (send: Send): Send => {
    layers.forEach((layer, index) => {
      if (typeof layer !== 'function') throw new TypeError(`compose: layer ${index} is not a function`);
    });
    return layers.reduceRight<Send>((next, layer) => layer(next), send);
  };
