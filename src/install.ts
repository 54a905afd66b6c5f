/**
 * install: puts `createFetch(options)` on `globalThis.fetch` and returns `restore()`, which puts back
 * exactly the fetch that was there. The default transport never calls the global fetch back (it
 * goes through the fetch a mock put there, and a mock's pass-through comes back as a pass-through),
 * so the wrapper cannot find itself there and recurse.
 */
import { createFetch, type ResilientFetch } from './client.js';
import { INSTALL_DEFAULTS } from './defaults.js';
import { clearReplaced, isResilientFetch, setReplaced, watching } from './internal/process-net.js';
import type { FetchLike, Policy, ResilientFetchOptions } from './options.js';

export type Restore = (() => Promise<void>) & {
  /** The client now installed as `globalThis.fetch`. */
  readonly fetch: ResilientFetch;
};

/**
 * `options` with install()'s defaults (`INSTALL_DEFAULTS`) where the caller left them unset: no
 * timeouts and no breaker. A timeout object is merged over "no timeouts" (`{ attempt: 10_000 }` sets
 * the attempt timeout only); `true` switches a layer on with its built-in defaults, as everywhere.
 */
const withInstallDefaults = (options: ResilientFetchOptions | undefined): ResilientFetchOptions => {
  const defaults: Policy = options?.defaults ?? {};
  const timeout = defaults.timeout;
  return {
    ...options,
    defaults: {
      ...defaults,
      timeout:
        typeof timeout === 'object' ? { ...INSTALL_DEFAULTS.timeout, ...timeout } : (timeout ?? { ...INSTALL_DEFAULTS.timeout }),
      breaker: defaults.breaker ?? INSTALL_DEFAULTS.breaker,
    },
  };
};

/**
 * Where @mswjs/interceptors (msw 2, nock 14) records its applied fetch interceptor: it writes it
 * there right after it replaced `globalThis.fetch` with its own function, and deletes it on dispose.
 */
const FETCH_INTERCEPTOR = Symbol.for('fetch-interceptor');
const globals = globalThis as unknown as Record<symbol, unknown>;

/**
 * A mock started after install() wraps the installed client, so its answers would bypass the
 * layers. This watches the interceptor's slot: when a fetch interceptor applies over `client`, the
 * mock's fetch is moved under the client (the default transport sends through it, its
 * pass-throughs come back to the network) and the client goes back in front. When the interceptor
 * is disposed (it deletes its slot, which removes this watch), the next call finds it gone and the
 * client looks through to `previous` again, with the watch re-armed. `stop()` returns the mock's
 * fetch when one is under the client.
 */
const watchFetchInterceptor = (client: object, previous: FetchLike | undefined): { stop(): FetchLike | undefined } => {
  let under: FetchLike | undefined;
  let stored: unknown;
  let stopped = false;
  const arm = () => {
    if (stopped || Object.getOwnPropertyDescriptor(globalThis, FETCH_INTERCEPTOR)) return;
    Object.defineProperty(globalThis, FETCH_INTERCEPTOR, {
      configurable: true,
      enumerable: false,
      get: () => stored,
      set: (interceptor: unknown) => {
        stored = interceptor;
        const front = globalThis.fetch as unknown;
        if (stopped || interceptor === undefined || front === client || typeof front !== 'function') return;
        under = front as FetchLike;
        setReplaced(client, under);
        globalThis.fetch = client as typeof globalThis.fetch;
        onDispose(() => {
          under = undefined;
          setReplaced(client, previous);
          stored = undefined;
          arm();
        });
      },
    });
  };
  // The interceptor deletes its slot on dispose: the next look at the slot finds the watch gone.
  let disposeCheck: (() => void) | undefined;
  const onDispose = (then: () => void) => {
    disposeCheck = () => {
      if (Object.getOwnPropertyDescriptor(globalThis, FETCH_INTERCEPTOR) === undefined) {
        disposeCheck = undefined;
        then();
      }
    };
    watching.set(client, () => disposeCheck?.());
  };
  arm();
  return {
    stop: () => {
      disposeCheck?.(); // a mock disposed since the last call is not put back in front
      stopped = true;
      watching.delete(client);
      const descriptor = Object.getOwnPropertyDescriptor(globalThis, FETCH_INTERCEPTOR);
      // Leave the interceptor's record as a plain value, as it wrote it.
      if (descriptor?.get) {
        delete globals[FETCH_INTERCEPTOR];
        if (stored !== undefined) globals[FETCH_INTERCEPTOR] = stored;
      }
      return under;
    },
  };
};

export const install = (options?: ResilientFetchOptions): Restore => {
  const previous = globalThis.fetch as FetchLike | undefined;
  if (isResilientFetch(options?.fetch)) {
    // Its layers run under ours: three attempts become nine. Nothing else stacks (the default
    // transport goes under an installed client, never through it).
    process.emitWarning(
      'resilient-fetch: install() was given a resilient fetch as its `fetch` option: both clients retry, so attempts multiply. Pass no `fetch` option.',
    );
  }
  const client = createFetch(withInstallDefaults(options));
  setReplaced(client, previous);
  globalThis.fetch = client as typeof globalThis.fetch;
  const watch = watchFetchInterceptor(client, previous);
  let restored = false;
  const restore = async () => {
    if (restored) return;
    restored = true;
    const front = watch.stop();
    // A mock that was moved under this client goes back in front, where it put itself.
    if (globalThis.fetch === (client as unknown)) globalThis.fetch = (front ?? previous) as typeof globalThis.fetch;
    clearReplaced(client);
    await client.close();
  };
  return Object.assign(restore, { fetch: client });
};
