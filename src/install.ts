/**
 * install: puts `createFetch(options)` on `globalThis.fetch` and returns `restore()`, which puts back
 * exactly the fetch that was there. The default transport is undici's own fetch, never the global,
 * so the wrapper cannot find itself there and recurse.
 */
import { createFetch, type ResilientFetch } from './client.js';
import type { ResilientFetchOptions } from './options.js';

export type Restore = (() => Promise<void>) & {
  /** The client now installed as `globalThis.fetch`. */
  readonly fetch: ResilientFetch;
};

export const install = (options?: ResilientFetchOptions): Restore => {
  const previous = globalThis.fetch;
  if (options?.fetch === undefined && (previous as Partial<ResilientFetch> | undefined)?.stats) {
    // Installing twice stacks two clients; allowed, but each layer would retry: say so.
    process.emitWarning('resilient-fetch: install() called while a resilient fetch is already installed');
  }
  const client = createFetch(options);
  globalThis.fetch = client as typeof globalThis.fetch;
  let restored = false;
  const restore = async () => {
    if (restored) return;
    restored = true;
    if (globalThis.fetch === (client as unknown)) globalThis.fetch = previous;
    await client.close();
  };
  return Object.assign(restore, { fetch: client });
};
