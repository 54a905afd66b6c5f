/**
 * OpenTelemetry, when the application has it: one `INTERNAL` span per call, whose context each
 * attempt is sent in, so the client spans that `@opentelemetry/instrumentation-undici` makes for
 * the attempts (retries, hedges, redirects) are its children, in one trace, even when the caller has
 * no active span. `@opentelemetry/api` is an optional peer dependency: it is looked for once, on the
 * first `createFetch()`, and never imported when it is absent; with it but no tracer provider
 * registered, a call costs one check.
 *
 * `http.request.resend_count` goes onto the undici spans through `resendCountHook`, the
 * instrumentation's `startSpanHook`: the instrumentation builds its span inside undici's
 * `undici:request:create` channel, where nothing of ours can reach the span, but the hook runs in
 * the attempt's context and can read the call's count of requests from it.
 */
import { createRequire } from 'node:module';
import type * as Api from '@opentelemetry/api';

type OTel = typeof Api;

/** `undefined` until looked for, `null` when `@opentelemetry/api` is not installed. */
let api: OTel | null | undefined;

/** Looks for `@opentelemetry/api` once, next to this package, synchronously: no call goes untraced. */
const loadApi = (): OTel | null => {
  if (api !== undefined) return api;
  try {
    // In the CommonJS build `__filename` is this file; in the ESM build it is not defined.
    const from = typeof __filename === 'string' ? __filename : import.meta.url;
    api = createRequire(from)('@opentelemetry/api') as OTel;
  } catch {
    api = null;
  }
  return api;
};

/** OpenTelemetry's HTTP semantic-convention attribute for the ordinal of a resent request. */
export const RESEND_COUNT = 'http.request.resend_count';

/** What the call's context carries for `resendCountHook`: how many requests the call has created so far. */
type CallState = { requests: number };

let callKey: symbol | undefined;

/** What `resendCountHook` returns for a request that gets no attribute. */
const NONE: Readonly<Record<string, number>> = Object.freeze({});

/** Runs a call's pipeline: `send` is called once, in the call span's context. */
export type TraceCall = (method: string, url: URL, send: () => Promise<Response>) => Promise<Response>;

const isAbort = (error: unknown): boolean =>
  typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'AbortError';

/**
 * The call tracer, or `undefined` when `@opentelemetry/api` is not installed (the client then does
 * nothing at all for tracing). With the API but no registered tracer provider, `TraceCall` only
 * checks for one and calls `send`.
 */
export const createCallTracer = (found: object | null = loadApi()): TraceCall | undefined => {
  // Typed `object` so that no declaration file of ours names @opentelemetry/api: it may be absent.
  const otel = found as OTel | null;
  if (!otel) return undefined;
  const { context, trace, SpanKind, SpanStatusCode } = otel;
  const key = (callKey ??= otel.createContextKey('resilient-fetch call'));
  // The provider the API hands out when none is registered (a singleton of the API's own).
  const noop = new otel.ProxyTracerProvider().getDelegate();
  let tracer: { provider: Api.TracerProvider; tracer: Api.Tracer } | undefined;

  return (method, url, send) => {
    const provider = trace.getTracerProvider() as Api.TracerProvider & { getDelegate?: () => Api.TracerProvider };
    const delegate = provider.getDelegate ? provider.getDelegate() : provider;
    if (delegate === noop) return send();
    if (tracer?.provider !== delegate) tracer = { provider: delegate, tracer: trace.getTracer('resilient-fetch') };
    const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
    const span = tracer.tracer.startSpan(`resilient-fetch ${method}`, {
      kind: SpanKind.INTERNAL,
      attributes: {
        'http.request.method': method,
        'server.address': url.hostname,
        'server.port': port,
        'url.scheme': url.protocol.slice(0, -1),
      },
    });
    const state: CallState = { requests: 0 };
    const callContext = trace.setSpan(context.active(), span).setValue(key, state);
    return context.with(callContext, send).then(
      (response) => {
        span.setAttribute('http.response.status_code', response.status);
        span.end();
        return response;
      },
      (error: unknown) => {
        // A caller's abort is not an error of the call (as the undici instrumentation treats it).
        if (!isAbort(error)) {
          const type = (error as { cause?: { code?: unknown } })?.cause?.code ?? (error as { name?: unknown })?.name;
          span.setAttribute('error.type', typeof type === 'string' && type !== '' ? type : 'Error');
          span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
        }
        span.end();
        throw error;
      },
    );
  };
};

/**
 * A `startSpanHook` for `@opentelemetry/instrumentation-undici`: puts `http.request.resend_count`
 * (1 for the second request of a call, 2 for the third, ...; absent on the first: the hook returns
 * no attribute) on the span of every request a resilient-fetch call sends: retries, hedges and
 * redirect hops, in the order they are created. Requests made outside a resilient-fetch call get nothing. Needs a context manager
 * (the Node SDK registers one) and a registered tracer provider.
 * @example
 * new UndiciInstrumentation({ startSpanHook: resendCountHook })
 * // with a hook of your own:
 * new UndiciInstrumentation({ startSpanHook: (request) => ({ ...resendCountHook(request), ...mine(request) }) })
 */
export const resendCountHook = (_request?: unknown): Readonly<Record<string, number>> => {
  if (!api || !callKey) return NONE;
  const state = api.context.active().getValue(callKey) as CallState | undefined;
  if (!state) return NONE;
  const resend = state.requests++;
  return resend === 0 ? NONE : { [RESEND_COUNT]: resend };
};
