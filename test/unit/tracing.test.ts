import * as api from '@opentelemetry/api';
import { describe, expect, it, vi } from 'vitest';
import { createCallTracer, resendCountHook } from '../../src/tracing.js';

describe('tracing', () => {
  it('without @opentelemetry/api there is no call tracer: the client does nothing for tracing', () => {
    expect(createCallTracer(null)).toBeUndefined();
  });

  it('with the API but no tracer provider registered, a call is sent as is and makes no span', async () => {
    const getTracer = vi.spyOn(api.trace, 'getTracer');
    const traceCall = createCallTracer(api)!;
    const response = new Response('ok');
    const send = vi.fn(() => Promise.resolve(response));
    const result = traceCall('GET', new URL('http://127.0.0.1:1/'), send);
    expect(send).toHaveBeenCalledTimes(1);
    expect(await result).toBe(response);
    expect(getTracer).not.toHaveBeenCalled();
    getTracer.mockRestore();
  });

  it('resendCountHook adds nothing to a request made outside a resilient-fetch call', () => {
    expect(resendCountHook({})).toEqual({});
  });
});
