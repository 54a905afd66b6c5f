/** Builds the `PreparedRequest` / `Attempt` a layer receives, for unit tests with a stub `next`. */
import type { ResilientEvent } from '../../src/diagnostics.js';
import { HostStates } from '../../src/pipeline/host-state.js';
import type { Attempt, LayerContext, PreparedRequest, Send } from '../../src/pipeline/types.js';
import type { Policy } from '../../src/options.js';
import { freezePolicy } from '../../src/resolve-policy.js';

export const preparedRequest = (href: string, policy: Policy, overrides: Partial<PreparedRequest> = {}): PreparedRequest => ({
  url: new URL(href),
  method: 'GET',
  headers: [],
  body: null,
  stream: null,
  replayable: true,
  init: {},
  policy: freezePolicy(policy),
  // As in production when the caller gives no signal and no body is streamed: none. A test that
  // needs one passes `signal` (and `callerSignal: true` for a caller's).
  signal: undefined,
  deadline: Infinity,
  callerSignal: false,
  ...overrides,
});

/** The first attempt of a request (or a later one: `number` retries, `branch` hedges). */
export const attemptOf = (request: PreparedRequest, number = 0, branch = 0): Attempt => ({
  request,
  url: request.url,
  signal: request.signal,
  number,
  branch,
});

/**
 * A `LayerContext` with real per-origin state records that records events, for layer unit tests.
 * `stats(origin)` is what `stats()` would report for that origin; `close()` does what the client's does.
 * `open` makes the given origins' breakers look open (origin → milliseconds until a probe).
 */
export const layerContext = ({ maxHosts = 100, open }: { maxHosts?: number; open?: Readonly<Record<string, number>> } = {}) => {
  const events: ResilientEvent[] = [];
  const emit = (event: ResilientEvent) => void events.push(event);
  const hosts = new HostStates(maxHosts, emit);
  for (const [origin, reopensIn] of Object.entries(open ?? {})) {
    const state = hosts.get(origin);
    state.isOpen = () => true;
    state.reopensIn = () => reopensIn;
  }
  const closing = new AbortController();
  const ends = new Map<object, Array<() => void>>();
  const context: LayerContext = {
    emit,
    hosts,
    closing: closing.signal,
    onCallEnd: (request, end) => void ends.set(request, [...(ends.get(request) ?? []), end]),
  };
  /** Ends the call of `request`, as the client does once its answer is handed over. */
  const endCall = (request: object) => {
    const list = ends.get(request) ?? [];
    ends.delete(request);
    for (const end of list) end();
  };
  /** `send` as one whole call per attempt: the call ends when the attempt settles. */
  const asCalls =
    (send: Send): Send =>
    (attempt) =>
      send(attempt).finally(() => endCall(attempt.request));
  const stats = (origin: string) => (hosts.peek(origin)?.snapshot() ?? {}) as Record<string, unknown>;
  const close = async () => {
    closing.abort(new TypeError('resilient-fetch: this client is closed'));
    hosts.clear();
  };
  return { context, events, stats, close, hosts, endCall, asCalls };
};
