/** Builds the `PreparedRequest` / `Attempt` a layer receives, for unit tests with a stub `next`. */
import type { Attempt, PreparedRequest } from '../../src/layers/layer.js';
import type { Policy } from '../../src/options.js';
import { freezePolicy } from '../../src/resolve-policy.js';

export const preparedRequest = (
  href: string,
  policy: Policy,
  overrides: Partial<PreparedRequest> = {},
): PreparedRequest => ({
  url: new URL(href),
  method: 'GET',
  headers: [],
  body: null,
  stream: null,
  replayable: true,
  init: {},
  policy: freezePolicy(policy),
  signal: new AbortController().signal,
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
