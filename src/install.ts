/**
 * install: puts `createFetch(options)` on `globalThis.fetch` and returns `restore()`, which puts back
 * exactly the fetch that was there. The default transport never calls the global fetch back (it
 * goes through the fetch a mock put there, and a mock's pass-through comes back as a pass-through),
 * so the wrapper cannot find itself there and recurse.
 */
import { createFetch, type ResilientFetch } from './client.js';
import { DEFAULTS } from './defaults.js';
import { clearReplaced, isResilientFetch, setReplaced } from './internal/process-net.js';
import type { FetchLike, Policy, ResilientFetchOptions } from './options.js';

export type Restore = (() => Promise<void>) & {
  /** The client now installed as `globalThis.fetch`. */
  readonly fetch: ResilientFetch;
};

/** `options` with install()'s defaults (see `DEFAULTS.install`) where the caller left them unset. */
const withInstallDefaults = (options: ResilientFetchOptions | undefined): ResilientFetchOptions => {
  const defaults: Policy = options?.defaults ?? {};
  const timeout = defaults.timeout === undefined || defaults.timeout === false ? defaults.timeout : { ...defaults.timeout };
  return {
    ...options,
    defaults: {
      ...defaults,
      timeout:
        timeout === undefined
          ? { ...DEFAULTS.install.timeout }
          : timeout === false
            ? false
            : { ...DEFAULTS.install.timeout, ...timeout },
      breaker: defaults.breaker ?? DEFAULTS.install.breaker,
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
  let restored = false;
  const restore = async () => {
    if (restored) return;
    restored = true;
    if (globalThis.fetch === (client as unknown)) globalThis.fetch = previous as typeof globalThis.fetch;
    clearReplaced(client);
    await client.close();
  };
  return Object.assign(restore, { fetch: client });
};
