/**
 * OpenTelemetry with the real parts: the SDK's in-memory exporter, an AsyncLocalStorage context
 * manager, the W3C propagator and @opentelemetry/instrumentation-undici, against a real server.
 * Runs on both transports (the integration-fetch project swaps the default). The OTel globals are
 * reset after the file.
 */
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect } from 'vitest';
import { resendCountHook } from '../../src/index.js';
import { sleep, test, type Handler } from '../support/server.js';
import { client } from '../support/client.js';

const UNDICI_SCOPE = '@opentelemetry/instrumentation-undici';
const RESEND = 'http.request.resend_count';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
// Each describe enables the one it tests. (Not `enabled: false` here: the instrumentation would then
// make no spans even once enabled.)
const hooked = new UndiciInstrumentation({ startSpanHook: resendCountHook });
const plain = new UndiciInstrumentation();
hooked.disable();
plain.disable();

const eventually = async (check: () => boolean, ms = 5_000): Promise<boolean> => {
  for (let waited = 0; waited < ms; waited += 10) {
    if (check()) return true;
    await sleep(10);
  }
  return check();
};

const spans = () => exporter.getFinishedSpans();
const undiciSpans = () => spans().filter((span) => span.instrumentationScope.name === UNDICI_SCOPE);
const callSpans = () => spans().filter((span) => span.instrumentationScope.name === 'resilient-fetch');
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
/** The trace id in a `traceparent` header (`00-<trace id>-<span id>-<flags>`). */
const traceIdOf = (header: string | string[] | undefined) => String(header).split('-')[1];

const statuses =
  (...codes: number[]): Handler =>
  (_req, res, _delivery, index) => {
    res.statusCode = codes[index] ?? 200;
    res.end(`delivery ${index}`);
  };

/** The first delivery stalls until the client goes away; later ones answer at once. */
const firstStalls: Handler = (_req, res, _delivery, index) => {
  if (index === 0) {
    const timer = setTimeout(() => res.end('stalled'), 10_000);
    res.on('close', () => clearTimeout(timer));
    return;
  }
  res.end(`delivery ${index}`);
};

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  registerInstrumentations({ instrumentations: [hooked, plain] });
  hooked.disable();
  plain.disable();
});

afterEach(() => exporter.reset());

afterAll(async () => {
  hooked.disable();
  plain.disable();
  trace.disable();
  propagation.disable();
  context.disable();
  await provider.shutdown();
});

describe('OpenTelemetry: no tracer provider registered', () => {
  beforeAll(() => hooked.enable());
  afterAll(() => hooked.disable());

  test('calls work, retries included, and no span is made: no call span, no traceparent sent', async ({ server }) => {
    server.handle(statuses(503, 200));
    const fetch = client();
    const res = await fetch(server.url);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('delivery 1');
    expect(server.deliveries).toHaveLength(2);
    for (const delivery of server.deliveries) expect(delivery.headers.traceparent).toBeUndefined();
    await sleep(20);
    expect(spans()).toHaveLength(0);
  });
});

describe('OpenTelemetry with instrumentation-undici and resendCountHook', () => {
  beforeAll(() => {
    trace.setGlobalTracerProvider(provider);
    hooked.enable();
  });
  afterAll(() => hooked.disable());

  test('a call retried twice (503, 503, 200) is one trace: one call span, three undici spans as its children, resend_count absent, 1, 2', async ({
    server,
  }) => {
    server.handle(statuses(503, 503, 200));
    const fetch = client();
    const res = await fetch(`${server.url}items?q=1`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('delivery 2');
    expect(fetch.events.filter((event) => event.type === 'retry')).toHaveLength(2);

    expect(await eventually(() => undiciSpans().length === 3 && callSpans().length === 1)).toBe(true);
    const [call] = callSpans();
    const attempts = [...undiciSpans()].sort((a, b) => Number(a.attributes[RESEND] ?? 0) - Number(b.attributes[RESEND] ?? 0));
    expect(call!.name).toBe('resilient-fetch GET');
    expect(call!.kind).toBe(SpanKind.INTERNAL);
    expect(call!.parentSpanContext).toBeUndefined(); // the caller had no active span: the call span is the root
    expect(call!.status.code).toBe(SpanStatusCode.UNSET);
    expect(call!.attributes).toMatchObject({
      'http.request.method': 'GET',
      'server.address': '127.0.0.1',
      'http.response.status_code': 200,
    });

    const traceId = call!.spanContext().traceId;
    expect(attempts.map((span) => span.attributes[RESEND])).toEqual([undefined, 1, 2]);
    expect(attempts.map((span) => span.attributes['http.response.status_code'])).toEqual([503, 503, 200]);
    for (const span of attempts) {
      expect(span.kind).toBe(SpanKind.CLIENT);
      expect(span.spanContext().traceId).toBe(traceId);
      expect(parentOf(span)).toBe(call!.spanContext().spanId);
    }
    // The server saw each attempt's own traceparent, all in the call's trace.
    expect(server.deliveries).toHaveLength(3);
    const sent = server.deliveries.map((delivery) => delivery.headers.traceparent);
    expect(sent.map(traceIdOf)).toEqual([traceId, traceId, traceId]);
    expect(sent.map((header) => String(header).split('-')[2])).toEqual(attempts.map((span) => span.spanContext().spanId));
    expect(spans()).toHaveLength(4);
  });

  test("a call inside a caller span: the call span is its child, the attempts are the call span's children", async ({
    server,
  }) => {
    server.handle(statuses(503, 200));
    const fetch = client();
    const tracer = trace.getTracer('caller');
    await tracer.startActiveSpan('caller', async (caller) => {
      const res = await fetch(server.url);
      await res.text();
      caller.end();
    });
    expect(await eventually(() => undiciSpans().length === 2 && spans().length === 4)).toBe(true);
    const caller = spans().find((span) => span.name === 'caller')!;
    const [call] = callSpans();
    expect(parentOf(call!)).toBe(caller.spanContext().spanId);
    expect(new Set(spans().map((span) => span.spanContext().traceId)).size).toBe(1);
    for (const span of undiciSpans()) expect(parentOf(span)).toBe(call!.spanContext().spanId);
  });

  test('two calls with no caller span are two traces', async ({ server }) => {
    const fetch = client();
    await (await fetch(server.url)).text();
    await (await fetch(server.url)).text();
    expect(await eventually(() => spans().length === 4)).toBe(true);
    const calls = callSpans();
    expect(calls).toHaveLength(2);
    expect(calls[0]!.spanContext().traceId).not.toBe(calls[1]!.spanContext().traceId);
    for (const span of undiciSpans()) {
      const parent = calls.find((call) => call.spanContext().spanId === parentOf(span));
      expect(parent?.spanContext().traceId).toBe(span.spanContext().traceId);
      expect(span.attributes[RESEND]).toBeUndefined();
    }
  });

  test("a hedged call: the losing branch's span ends without an error, the winner has resend_count 1, the call span is no error", async ({
    server,
  }) => {
    server.handle(firstStalls);
    const fetch = client({ defaults: { hedge: { delay: 30 } } });
    const res = await fetch(server.url);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('delivery 1');
    expect(fetch.events.some((event) => event.type === 'hedge-win')).toBe(true);

    expect(await eventually(() => undiciSpans().length === 2 && callSpans().length === 1)).toBe(true);
    const [call] = callSpans();
    expect(call!.status.code).toBe(SpanStatusCode.UNSET);
    expect(call!.attributes['error.type']).toBeUndefined();
    const loser = undiciSpans().find((span) => span.attributes[RESEND] === undefined)!;
    const winner = undiciSpans().find((span) => span.attributes[RESEND] === 1)!;
    expect(winner.attributes['http.response.status_code']).toBe(200);
    expect(winner.status.code).toBe(SpanStatusCode.UNSET);
    // The loser was aborted before its headers: ended, no status code, no error status, type or exception.
    expect(loser).toBeDefined();
    expect(loser.status.code).toBe(SpanStatusCode.UNSET);
    expect(loser.attributes['http.response.status_code']).toBeUndefined();
    expect(loser.attributes['error.type']).toBeUndefined();
    expect(loser.events.filter((event) => event.name === 'exception')).toHaveLength(0);
    for (const span of [loser, winner]) {
      expect(parentOf(span)).toBe(call!.spanContext().spanId);
      expect(span.spanContext().traceId).toBe(call!.spanContext().traceId);
    }
    expect(server.deliveries.map((delivery) => traceIdOf(delivery.headers.traceparent))).toEqual([
      call!.spanContext().traceId,
      call!.spanContext().traceId,
    ]);
  });

  test('a call that fails (connection refused after its retries) ends its call span as an error', async () => {
    const { refusedPort } = await import('../support/server.js');
    const port = await refusedPort();
    const fetch = client();
    await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow(TypeError);
    expect(await eventually(() => callSpans().length === 1 && undiciSpans().length === 3)).toBe(true);
    const [call] = callSpans();
    expect(call!.status.code).toBe(SpanStatusCode.ERROR);
    expect(call!.attributes['error.type']).toBe('ECONNREFUSED');
    expect(
      undiciSpans()
        .map((span) => span.attributes[RESEND])
        .sort(),
    ).toEqual([1, 2, undefined]);
  });

  test("a caller's abort: the call span is not an error", async ({ server }) => {
    server.handle(firstStalls);
    const fetch = client();
    const controller = new AbortController();
    const pending = fetch(server.url, { signal: controller.signal });
    await eventually(() => server.deliveries.length === 1);
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    expect(await eventually(() => callSpans().length === 1 && undiciSpans().length === 1)).toBe(true);
    expect(callSpans()[0]!.status.code).toBe(SpanStatusCode.UNSET);
  });
});

describe('OpenTelemetry with a plain registration of instrumentation-undici (no hook)', () => {
  beforeAll(() => {
    trace.setGlobalTracerProvider(provider);
    plain.enable();
  });
  afterAll(() => plain.disable());

  test('the attempts are still children of one call span, in one trace; resend_count needs the hook', async ({ server }) => {
    server.handle(statuses(503, 200));
    const fetch = client();
    await (await fetch(server.url)).text();
    expect(await eventually(() => undiciSpans().length === 2 && callSpans().length === 1)).toBe(true);
    const [call] = callSpans();
    for (const span of undiciSpans()) {
      expect(parentOf(span)).toBe(call!.spanContext().spanId);
      expect(span.attributes[RESEND]).toBeUndefined();
    }
    expect(server.deliveries.map((delivery) => traceIdOf(delivery.headers.traceparent))).toEqual([
      call!.spanContext().traceId,
      call!.spanContext().traceId,
    ]);
  });
});
