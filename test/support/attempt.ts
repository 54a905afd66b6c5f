/** Builds the `PreparedRequest` / `Attempt` a layer receives, for unit tests with a stub `next`. */
import type { ResilientEvent } from '../../src/diagnostics.js';
import { HostRegistry } from '../../src/pipeline/host-state.js';
import type { Attempt, HostCounters, LayerContext, PreparedRequest } from '../../src/pipeline/types.js';
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

/** A `LayerContext` that records events and collects `describe()` output, for layer unit tests. */
export const layerContext = () => {
  const events: ResilientEvent[] = [];
  const describers: Array<(origin: string) => Record<string, unknown> | undefined> = [];
  const context: LayerContext = {
    emit: (event) => void events.push(event),
    counters: new HostRegistry<HostCounters>(10, () => ({ calls: 0, attempts: 0, retries: 0, failures: 0 })),
    maxHosts: 10,
    describe: (describer) => void describers.push(describer),
    onClose: () => {},
  };
  const stats = (origin: string) => Object.assign({}, ...describers.map((d) => d(origin))) as Record<string, unknown>;
  return { context, events, stats };
};
