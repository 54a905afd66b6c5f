/**
 * One client builder for the integration tests: `client(...options)` deep-merges its arguments over
 * `FAST` (back-off of 1..5 ms, so tests over real sockets never repeat it), builds the client,
 * records its events in `.events` (and still calls an `onEvent` given), and closes it when the test
 * finishes. `defaultClient(...)` starts from nothing instead: the library's own defaults, for the
 * tests that are about them.
 *
 * The merge: plain objects merge key by key, at any depth; anything else (an array, a function, a
 * number, `true`, `false`, a class instance such as a Dispatcher) replaces what was there. So
 * `client({ defaults: { retry: { limit: 0 } } })` keeps the fast back-off, and `client({ defaults:
 * { retry: false } })` switches retrying off.
 */
import { onTestFinished } from 'vitest';
import { createFetch, type ResilientFetch } from '../../src/client.js';
import type { ResilientEvent } from '../../src/diagnostics.js';
import type { Policy, ResilientFetchOptions } from '../../src/options.js';

/** Back-off fast enough for integration tests over real sockets (1..5 ms). */
export const FAST_BACKOFF = { base: 1, max: 5 } as const;
/** A policy with the fast back-off only. */
export const FAST: Policy = { retry: { backoff: FAST_BACKOFF } };

const isPlainObject = (value: unknown): value is Record<string, unknown> => {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
};

/** `over` deep-merged onto `base` (neither is changed): plain objects merge, everything else replaces. */
export const deepMerge = <T>(base: T, over: unknown): T => {
  if (over === undefined) return base;
  if (!isPlainObject(base) || !isPlainObject(over)) return over as T;
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) merged[key] = deepMerge(merged[key], value);
  return merged as T;
};

export type TestClient = ResilientFetch & { readonly events: ResilientEvent[] };

const build = (options: readonly (ResilientFetchOptions | undefined)[]): TestClient => {
  const merged = options.reduce<ResilientFetchOptions>((all, next) => deepMerge(all, next), {});
  const events: ResilientEvent[] = [];
  const { onEvent } = merged;
  const fetch = createFetch({
    ...merged,
    onEvent: (event) => {
      events.push(event);
      onEvent?.(event);
    },
  });
  onTestFinished(() => fetch.close());
  return Object.assign(fetch, { events });
};

/** A client with the fast back-off and `options` deep-merged over it, in order; closed when the test ends. */
export const client = (...options: Array<ResilientFetchOptions | undefined>): TestClient =>
  build([{ defaults: FAST }, ...options]);

/** As `client`, from the library's own defaults (no fast back-off): for tests of the defaults. */
export const defaultClient = (...options: Array<ResilientFetchOptions | undefined>): TestClient => build(options);

/** A `client` with `base` merged in first: a test file's own starting point (`const client = clientWith({...})`). */
export const clientWith =
  (...base: Array<ResilientFetchOptions | undefined>) =>
  (...options: Array<ResilientFetchOptions | undefined>): TestClient =>
    client(...base, ...options);
