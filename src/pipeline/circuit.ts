/**
 * One origin's circuit breaker: an opossum `CircuitBreaker` and what we track beside it (its state,
 * when it opened). Part of the origin's state record (host-state.ts), made the first time a call
 * with a breaker reaches the origin; the breaker layer runs attempts through it.
 */
import CircuitBreaker from 'opossum';
import type { ResolvedBreaker } from '../options.js';

export type CircuitState = 'closed' | 'open' | 'half-open';

/** What opossum runs: the rest of the pipeline for one attempt. */
export type Run = () => Promise<Response>;

/** A response whose status counts as a failure, on its way through opossum. Never reaches the caller. */
export class FailureStatus extends Error {
  constructor(readonly response: Response) {
    super(`status ${response.status}`);
  }
}

/**
 * An outcome that is no failure of the host (the attempt was aborted from above, or the error is no
 * network failure). opossum counts it as a success. Never reaches the caller.
 */
export class NotCounted extends Error {
  constructor(readonly error: unknown) {
    super('not a failure of the host');
  }
}

/** One origin's breaker and what we track beside it. */
export class Circuit {
  state: CircuitState = 'closed';
  /** `Date.now()` when it last opened. */
  openedAt = 0;
  readonly breaker: CircuitBreaker<[Run], Response>;
  /** The options object opossum keeps as its own `options` and reads at each decision. */
  readonly #options: CircuitBreaker.Options<[Run]>;
  #resetTimeout: number;

  constructor(origin: string, settings: ResolvedBreaker, onTransition: (from: CircuitState, to: CircuitState) => void) {
    this.#resetTimeout = settings.resetTimeout;
    // A fresh object per breaker: opossum writes its defaults (and caches, controllers) into it.
    this.#options = {
      name: origin,
      errorThresholdPercentage: settings.errorThresholdPercentage,
      volumeThreshold: settings.volumeThreshold,
      resetTimeout: settings.resetTimeout,
      rollingCountTimeout: settings.rollingCountTimeout,
      rollingCountBuckets: settings.rollingCountBuckets,
      // Attempt timeouts are ours (timeout layer, below): opossum's own timer would not cancel the work.
      timeout: false,
      // No snapshot interval, and no latency arrays sorted on every failure: we do not read them.
      enableSnapshots: false,
      rollingPercentilesEnabled: false,
      errorFilter: (error: unknown) => error instanceof NotCounted,
    };
    this.breaker = new CircuitBreaker<[Run], Response>((run) => run(), this.#options);
    // opossum unrefs its bucket interval and reset timer itself (opossum 9, lib/status.js and lib/circuit.js).
    const move = (to: CircuitState) => () => {
      const from = this.state;
      if (from === to) return;
      this.state = to;
      if (to === 'open') this.openedAt = Date.now();
      onTransition(from, to);
    };
    this.breaker.on('open', move('open'));
    this.breaker.on('halfOpen', move('half-open'));
    this.breaker.on('close', move('closed'));
  }

  /**
   * A call's settings, from now on (host-state.ts's rule): the threshold and the reset timeout are
   * read by opossum at each decision. The rolling window and the volume threshold stay as made
   * (opossum fixes them when it builds the breaker).
   */
  apply(settings: ResolvedBreaker): void {
    const options = this.#options;
    options.errorThresholdPercentage = settings.errorThresholdPercentage;
    options.resetTimeout = settings.resetTimeout;
    this.#resetTimeout = settings.resetTimeout;
  }

  /** True when a call would be refused now: open, or half-open with its one probe already out. */
  get refusing(): boolean {
    return this.breaker.opened || (this.breaker.halfOpen && !this.breaker.pendingClose);
  }

  /** Milliseconds until a probe may go out (0 while half-open: the probe's outcome decides). */
  get retryAfter(): number {
    return this.breaker.opened ? Math.max(0, this.openedAt + this.#resetTimeout - Date.now()) : 0;
  }

  /** Called by the registry on eviction and on `close()`: clears opossum's interval and timer. */
  close(): void {
    this.breaker.shutdown();
  }
}
