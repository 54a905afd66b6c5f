/**
 * What a call gets when the breaker of its origin (or of every upstream) refuses it: the policy's
 * `fallback(request, error)` when it has one (emitting `fallback`), else the `CircuitOpenError`.
 * Shared by the breaker and upstream layers, which import no layer.
 */
import type { CircuitOpenError } from '../errors.js';
import type { Attempt, LayerContext, PreparedRequest } from './types.js';

/** The caller's request as a global `Request`, for `fallback`. A body that was streamed is left out. */
const toRequest = (request: PreparedRequest): Request => {
  const bodyless = request.method === 'GET' || request.method === 'HEAD';
  return new Request(request.url, {
    method: request.method,
    headers: request.headers as Array<[string, string]>,
    body: bodyless ? null : request.body,
    signal: request.signal ?? null,
  });
};

export const answerOpen = async (context: LayerContext, attempt: Attempt, error: CircuitOpenError): Promise<Response> => {
  const settings = attempt.request.policy.breaker;
  const fallback = settings ? settings.fallback : undefined;
  if (!fallback) throw error;
  context.emit({ type: 'fallback', host: attempt.request.url.origin, reason: error.code });
  return fallback(toRequest(attempt.request), error);
};
