/**
 * Deadlines that cross services: `runWithDeadline(ms, fn)` runs `fn` under a deadline kept in an
 * `AsyncLocalStorage`, and every call a resilient fetch makes inside it (awaited or not, however
 * deep) inherits what is left of it: its total deadline is the sooner of its own total timeout and
 * the enclosing one, so the call is aborted when its caller's time is up, never later. A nested
 * `runWithDeadline` can only shorten the deadline. With the `deadlineHeader` policy field each
 * attempt tells the next service how many milliseconds are left, and that service runs its handler
 * under `runWithDeadline(thatHeader, ...)`: gRPC's deadline propagation, over HTTP.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** The `performance.now()` by which the enclosing `runWithDeadline` must be done. */
const store = new AsyncLocalStorage<number>();

/**
 * Runs `fn` with a deadline `ms` milliseconds from now (or the enclosing one, if sooner); returns
 * what `fn` returns. Calls of every resilient fetch made inside `fn` end by then at the latest.
 * @example
 * // In a server: inherit the caller's deadline from its header.
 * const left = Number(req.headers['x-request-timeout-ms']);
 * await runWithDeadline(Number.isFinite(left) ? left : 5_000, () => handle(req, res));
 */
export const runWithDeadline = <T>(ms: number, fn: () => T): T => {
  if (typeof ms !== 'number' || Number.isNaN(ms) || ms < 0) {
    throw new RangeError(`runWithDeadline: ms must be a number >= 0, got ${String(ms)}`);
  }
  if (typeof fn !== 'function') throw new TypeError('runWithDeadline: fn must be a function');
  const at = Math.min(store.getStore() ?? Infinity, performance.now() + ms);
  return store.run(at, fn);
};

/** Milliseconds left of the enclosing `runWithDeadline` (0 once it has passed), or undefined outside one. */
export const deadlineLeft = (): number | undefined => {
  const at = store.getStore();
  return at === undefined ? undefined : Math.max(0, at - performance.now());
};

/** The enclosing deadline as a `performance.now()` time, or undefined. For the client. */
export const enclosingDeadline = (): number | undefined => store.getStore();
