/**
 * One origin's bulkhead: slots for requests in flight, and a queue for requests waiting for one, in
 * arrival order. A slot is held from the send to the response headers (or the error): the body that
 * follows is the caller's to read, and a body left unread would otherwise hold its slot for good
 * (Polly's `ConcurrencyLimiter` around `SendAsync` and cockatiel's `bulkhead` around `fetch` count
 * the same span). The limit is fixed (`maxConcurrent: n`) or learned (`'auto'`, ConcurrencyLimit).
 *
 * A waiter leaves the queue at once when its caller aborts (rejecting with the abort reason), when
 * the client closes, when `queueTimeout` passes (`BulkheadRejectedError`, reason `queue timeout`), or
 * when the call's deadline passes first (the deadline's own error).
 */
import { BulkheadRejectedError } from '../errors.js';
import type { ResolvedBulkhead } from '../options.js';
import { ConcurrencyLimit, type LimitChange } from './concurrency-limit.js';

/** What an answer says to an adaptive limit: its time to headers, whether it was an overload answer; undefined: nothing. */
export type Sample = { readonly rtt: number; readonly drop: boolean } | undefined;

/** Gives the slot back; `sample` feeds the adaptive limit. */
export type Release = (sample: Sample) => void;

export type EnterOptions = {
  /** Whether the request may wait for a slot (a hedge does not: it is only worth sending now). */
  readonly queue: boolean;
  readonly signal?: AbortSignal | undefined;
  readonly closing?: AbortSignal | undefined;
  /** `performance.now()` by which the call must be done, and the error it then fails with. */
  readonly deadline: number;
  readonly deadlineError: () => unknown;
};

type Waiter = {
  readonly admit: (release: Release) => void;
  readonly leave: (error: unknown) => void;
};

/** The highest limit `'auto'` may learn (Envoy's default `max_requests`). */
export const AUTO_MAX_LIMIT = 1_024;

export class Bulkhead {
  /** Requests holding a slot. */
  active = 0;
  /** Requests rejected so far (queue full or queue timeout). */
  rejected = 0;
  settings: ResolvedBulkhead;
  readonly #queue: Waiter[] = [];
  #adaptive: ConcurrencyLimit | undefined;
  readonly #onChange: (change: LimitChange) => void;

  constructor(
    readonly origin: string,
    settings: ResolvedBulkhead,
    onChange: (change: LimitChange) => void,
  ) {
    this.settings = settings;
    this.#onChange = onChange;
  }

  /** Requests allowed in flight now: `maxConcurrent`, or the learned limit with `'auto'`. */
  get limit(): number {
    const { maxConcurrent } = this.settings;
    if (maxConcurrent !== 'auto') return maxConcurrent;
    this.#adaptive ??= new ConcurrencyLimit(AUTO_MAX_LIMIT);
    return this.#adaptive.limit;
  }

  /** Requests waiting for a slot. */
  get queued(): number {
    return this.#queue.length;
  }

  /** The learned limit's long-term RTT, ms, with `'auto'`. */
  get baseline(): number | undefined {
    return this.#adaptive?.baseline;
  }

  /**
   * A slot: at once (a `Release`) when one is free and nobody waits, else a promise of one.
   * Throws (or rejects) `BulkheadRejectedError` when the request may not wait or the queue is full.
   */
  enter(options: EnterOptions): Release | Promise<Release> {
    if (this.active < this.limit && this.#queue.length === 0) {
      this.active++;
      return this.#release();
    }
    if (!options.queue || this.#queue.length >= this.settings.maxQueued) {
      this.rejected++;
      throw new BulkheadRejectedError(this.origin, 'queue full', this.limit);
    }
    return this.#wait(options);
  }

  #wait(options: EnterOptions): Promise<Release> {
    const { signal, closing } = options;
    const why = signal?.aborted ? signal : closing?.aborted ? closing : undefined;
    if (why) return Promise.reject(why.reason);
    return new Promise<Release>((resolve, reject) => {
      const untilDeadline = options.deadline - performance.now();
      const byDeadline = untilDeadline < this.settings.queueTimeout;
      const leave = (error: unknown): void => {
        const index = this.#queue.indexOf(waiter);
        if (index < 0) return;
        this.#queue.splice(index, 1);
        done();
        reject(error);
      };
      const onAbort = (): void => leave(signal?.reason);
      const onClose = (): void => leave(closing?.reason);
      const timer = setTimeout(
        () => {
          if (byDeadline) return leave(options.deadlineError());
          this.rejected++;
          leave(new BulkheadRejectedError(this.origin, 'queue timeout', this.limit));
        },
        Math.max(0, byDeadline ? untilDeadline : this.settings.queueTimeout),
      );
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        closing?.removeEventListener('abort', onClose);
      };
      const waiter: Waiter = {
        admit: (release) => {
          done();
          resolve(release);
        },
        leave,
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      closing?.addEventListener('abort', onClose, { once: true });
      this.#queue.push(waiter);
    });
  }

  /** A slot's release, once only. */
  #release(): Release {
    const inFlight = this.active;
    let released = false;
    return (sample) => {
      if (released) return;
      released = true;
      this.active--;
      if (sample && this.#adaptive && this.settings.maxConcurrent === 'auto') {
        const change = this.#adaptive.record(sample.rtt, sample.drop, inFlight, performance.now());
        if (change) this.#onChange(change);
      }
      this.#drain();
    };
  }

  /** Hands free slots to the waiters, first come first served. */
  #drain(): void {
    while (this.#queue.length > 0 && this.active < this.limit) {
      const waiter = this.#queue.shift() as Waiter;
      this.active++;
      waiter.admit(this.#release());
    }
  }

  /** Settings follow the call (see host-state.ts); a higher limit lets waiters in at once. */
  apply(settings: ResolvedBulkhead): void {
    if (settings === this.settings) return;
    this.settings = settings;
    this.#drain();
  }
}
