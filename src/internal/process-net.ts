/**
 * What the process set up for its own `fetch`, read per call (a property read and an identity
 * check), so set-up order does not matter: the process-wide undici dispatcher when the user (or
 * Node's env proxy support) installed one, and a `globalThis.fetch` replaced by a mock (msw, nock).
 * Nothing here writes a process-wide slot.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { Dispatcher, fetch as undiciFetch } from 'undici';
import type { FetchLike } from '../options.js';

/** Where every undici (6 and 7, Node's bundled copy included) keeps the process-wide dispatcher. */
const GLOBAL_DISPATCHER = Symbol.for('undici.globalDispatcher.1');
const slot = globalThis as unknown as Record<symbol, Dispatcher | undefined>;

/** The dispatcher in the slot when this module loaded: undici's own default unless the user set one first. */
const atLoad = slot[GLOBAL_DISPATCHER];

/** An `Agent` built with no options (undici keeps them under a `Symbol('options')`). */
const hasDefaultOptions = (dispatcher: object): boolean => {
  const key = Object.getOwnPropertySymbols(dispatcher).find((symbol) => symbol.description === 'options');
  const options = key && (dispatcher as Record<symbol, unknown>)[key];
  if (!options || typeof options !== 'object') return false;
  return Object.entries(options).every(([name, value]) => value === undefined || (name === 'maxOrigins' && value === Infinity));
};

/**
 * True for the `Agent` an undici copy puts in the slot by itself (`new Agent()` in its global.js):
 * this package's undici when it found the slot empty, or Node's bundled one (another class) once
 * Node's fetch loaded. A user's `setGlobalDispatcher(new Agent())` after this module loaded is the
 * user's choice and is honoured.
 */
const isUndiciDefault = (dispatcher: Dispatcher): boolean =>
  dispatcher.constructor?.name === 'Agent' &&
  (dispatcher === atLoad || !(dispatcher instanceof Dispatcher)) &&
  hasDefaultOptions(dispatcher);

let seenDispatcher: Dispatcher | undefined;
let userDispatcher: Dispatcher | undefined;

/** The process-wide dispatcher when the user or Node's env proxy support set one; `undefined` for undici's default. */
export const processDispatcher = (): Dispatcher | undefined => {
  const current = slot[GLOBAL_DISPATCHER];
  if (current !== seenDispatcher) {
    seenDispatcher = current;
    userDispatcher = current === undefined || isUndiciDefault(current) ? undefined : current;
  }
  return userDispatcher;
};

// ---- the global fetch ----------------------------------------------------------------------------

/** Every client `createFetch` made, and what `install()` replaced for the installed ones. */
const clients = new WeakSet<object>();
const replaced = new WeakMap<object, FetchLike | undefined>();

export const registerClient = (client: object): void => void clients.add(client);
export const isResilientFetch = (value: unknown): boolean => typeof value === 'function' && clients.has(value);
export const setReplaced = (client: object, previous: FetchLike | undefined): void => void replaced.set(client, previous);
export const clearReplaced = (client: object): void => void replaced.delete(client);
export const replacedBy = (client: object): FetchLike | undefined => replaced.get(client);
/** Per installed client that moved a mock under itself: checks whether that mock was disposed (install.ts). */
export const watching = new Map<object, () => void>();

let seenFetch: unknown;
let seenIsNode = false;

/** Node's own global `fetch` (its source loads Node's bundled undici), or undici's exported one. */
const isNodeFetch = (fetch: unknown): boolean => {
  if (fetch !== seenFetch) {
    seenFetch = fetch;
    seenIsNode =
      fetch === undiciFetch ||
      (typeof fetch === 'function' &&
        fetch.name === 'fetch' &&
        Function.prototype.toString.call(fetch).includes('internal/deps/undici'));
  }
  return seenIsNode;
};

/**
 * The fetch a mock (msw, nock, any interceptor) put in place of Node's, when there is one: the
 * current `globalThis.fetch`, looking through installed resilient clients to the fetch each one
 * replaced. `undefined` when the process's fetch is Node's own.
 */
export const mockedFetch = (): FetchLike | undefined => {
  let fetch: unknown = globalThis.fetch;
  for (let hops = 0; clients.has(fetch as object); hops++) {
    if (hops > 32 || !replaced.has(fetch as object)) return undefined;
    watching.get(fetch as object)?.();
    fetch = replaced.get(fetch as object);
  }
  if (fetch === undefined || isNodeFetch(fetch)) return undefined;
  return fetch as FetchLike;
};

// ---- calls that come back ------------------------------------------------------------------------

/**
 * Set while a client hands a call to a fetch it does not own (a mock, or an injected `fetch`):
 * a resilient client entered from inside that call is a pass-through coming back, not a new call.
 */
export type Passage = {
  /** The call went to a mock: any resilient client entered again sends on the network directly. */
  readonly mock: boolean;
  /** Clients whose injected `fetch` is running. */
  readonly clients: ReadonlySet<object>;
  readonly depth: number;
};

export const passage = new AsyncLocalStorage<Passage>();

/** Nested pass-throughs allowed before a call is taken for a loop and rejected. */
export const MAX_PASSAGE_DEPTH = 8;

/** Runs `call` as a hand-over from `client` (or to a mock), one level deeper. */
export const handOver = <T>(call: () => T, mock: boolean, client?: object): T => {
  const outer = passage.getStore();
  const depth = (outer?.depth ?? 0) + 1;
  if (depth > MAX_PASSAGE_DEPTH) {
    throw new TypeError(
      `resilient-fetch: a fetch called itself back ${MAX_PASSAGE_DEPTH} times (a loop between globalThis.fetch, ` +
        'a mock and the `fetch` option). Pass no `fetch` option: the default transport already goes through msw, ' +
        'nock or any mock that replaced globalThis.fetch.',
    );
  }
  const inner = new Set(outer?.clients);
  if (client) inner.add(client);
  return passage.run({ mock: mock || (outer?.mock ?? false), clients: inner, depth }, call);
};
