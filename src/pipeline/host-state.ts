/**
 * Bounded per-host state, least recently used evicted. Each layer keeps its own registry of
 * whatever it needs per host (breaker, budget, latency window, counters); an evicted entry is
 * closed if it has a `close()` method.
 */
export class HostRegistry<T> {
  readonly #entries = new Map<string, T>();
  readonly #max: number;
  readonly #create: (host: string) => T;
  #last: string | undefined;

  constructor(max: number, create: (host: string) => T) {
    this.#max = max;
    this.#create = create;
  }

  /** Returns the host's entry, creating it on first use and marking it most recently used. */
  get(host: string): T {
    const entries = this.#entries;
    let entry = entries.get(host);
    if (entry !== undefined) {
      // Re-insert to move to the end (most recent); skipped when it already is the most recent.
      if (host !== this.#last) {
        entries.delete(host);
        entries.set(host, entry);
        this.#last = host;
      }
      return entry;
    }
    this.#last = host;
    entry = this.#create(host);
    entries.set(host, entry);
    if (entries.size > this.#max) {
      const oldest = entries.keys().next().value as string;
      const evicted = entries.get(oldest);
      entries.delete(oldest);
      close(evicted);
    }
    return entry;
  }

  /** The entry without creating it or touching its recency. */
  peek(host: string): T | undefined {
    return this.#entries.get(host);
  }

  get size(): number {
    return this.#entries.size;
  }

  entries(): IterableIterator<[string, T]> {
    return this.#entries.entries();
  }

  /** Closes and forgets every entry. */
  clear(): void {
    for (const entry of this.#entries.values()) close(entry);
    this.#entries.clear();
    this.#last = undefined;
  }
}

const close = (entry: unknown): void => {
  if (entry && typeof (entry as { close?: unknown }).close === 'function') (entry as { close(): void }).close();
};
