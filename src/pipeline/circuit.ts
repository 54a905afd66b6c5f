/**
 * One origin's circuit breaker: an opossum `CircuitBreaker` and what we track beside it (its state,
 * when it opened, the call probing it). Part of the origin's state record (host-state.ts), made the
 * first time a call with a breaker reaches the origin.
 *
 * It counts calls, not attempts: the breaker layer gates each attempt (`refuses`), and when a call
 * ends it `commit`s one outcome per origin the call sent to: the origin's last answer in that call.
 * A 503 that the call's retry turned into a 200 is a success; a call whose attempts at this origin
 * were all cut off (the caller's abort, the total timeout, a losing hedge) is not counted at all.
 * Half-open, the first call to arrive is the probe: its attempts go through, every other call is
 * refused until it ends, and its outcome closes or reopens the breaker.
 *
 * How long it stays open grows while the origin stays down: `resetTimeout` the first time, twice as
 * long each time a probe fails, at most `maxResetTimeout`, and `resetTimeout` again once a probe
 * succeeds (Resilience4j's exponential wait in the open state, Polly's break-duration generator,
 * Envoy's growing ejection time). A short outage costs a second of refusals, a long one a probe
 * call every `maxResetTimeout`.
 */
import CircuitBreaker from 'opossum';
import type { ResolvedBreaker } from '../options.js';

export type CircuitState = 'closed' | 'open' | 'half-open';

/** What opossum runs: a call's outcome at this origin, already known (see `commit`). */
export type Run = () => Promise<void>;

/** A call that failed at this origin, as opossum is told it. Never reaches the caller. */
class CallFailed extends Error {
  constructor() {
    super('the call failed at this origin');
  }
}

const succeeded: Run = () => Promise.resolve();
const failed: Run = () => Promise.reject(new CallFailed());
const ignore = () => {};

/** One origin's breaker and what we track beside it. */
export class Circuit {
  state: CircuitState = 'closed';
  /** `Date.now()` when it last opened. */
  openedAt = 0;
  readonly breaker: CircuitBreaker<[Run], void>;
  /** While half-open: the call whose outcome decides (its attempts go through, others are refused). */
  probe: object | undefined;
  /** The options object opossum keeps as its own `options` and reads at each decision. */
  readonly #options: CircuitBreaker.Options<[Run]>;
  #settings: ResolvedBreaker;
  /** Probes failed in a row since the breaker last closed: the open period is resetTimeout × 2^this. */
  #failedProbes = 0;
  /** How long the current (or last) open period is, in ms. */
  #openFor: number;

  constructor(origin: string, settings: ResolvedBreaker, onTransition: (from: CircuitState, to: CircuitState) => void) {
    this.#settings = settings;
    this.#openFor = settings.resetTimeout;
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
    };
    this.breaker = new CircuitBreaker<[Run], void>((run) => run(), this.#options);
    // opossum unrefs its bucket interval and reset timer itself (opossum 9, lib/status.js and lib/circuit.js).
    const move = (to: CircuitState) => () => {
      const from = this.state;
      if (from === to) return;
      this.state = to;
      if (to === 'open') this.openedAt = Date.now();
      onTransition(from, to);
    };
    // opossum starts its reset timer in its own 'open' listener (registered before ours), reading
    // options.resetTimeout then: so the period of the next opening is set at each transition before.
    this.breaker.on('open', () => {
      this.probe = undefined;
      this.#openFor = this.#options.resetTimeout ?? settings.resetTimeout;
      move('open')();
    });
    this.breaker.on('halfOpen', () => {
      // If this probe fails, the breaker opens for twice as long.
      this.#failedProbes++;
      this.#setPeriod();
      move('half-open')();
    });
    this.breaker.on('close', () => {
      this.#failedProbes = 0;
      this.#setPeriod();
      move('closed')();
    });
  }

  /** The period opossum will use when it next opens: resetTimeout doubled per failed probe, capped. */
  #setPeriod(): void {
    const { resetTimeout, maxResetTimeout } = this.#settings;
    const cap = Math.max(resetTimeout, maxResetTimeout);
    this.#options.resetTimeout = Math.min(cap, resetTimeout * 2 ** Math.min(this.#failedProbes, 40));
  }

  /**
   * A call's settings, from now on (host-state.ts's rule): the threshold and the reset timeouts are
   * read by opossum at each decision (an open period already started keeps its length). The
   * rolling window and the volume threshold stay as made (opossum fixes them when it builds the
   * breaker).
   */
  apply(settings: ResolvedBreaker): void {
    this.#settings = settings;
    this.#options.errorThresholdPercentage = settings.errorThresholdPercentage;
    this.#setPeriod();
  }

  /** True when a call would be refused now: open, or half-open with its probe out. */
  get refusing(): boolean {
    return this.breaker.opened || (this.breaker.halfOpen && this.probe !== undefined);
  }

  /**
   * Whether an attempt of `call` is refused now; a call that finds the breaker half-open with no
   * probe out becomes the probe.
   */
  refuses(call: object): boolean {
    if (this.breaker.opened) return true;
    if (!this.breaker.halfOpen) return false;
    this.probe ??= call;
    return this.probe !== call;
  }

  /**
   * A call ended: `outcome` is its last counted answer here (`undefined`: none counted). Counted
   * while closed, and for the probe while half-open; a call that ends while the breaker is open
   * (another call's outcome opened it meanwhile) adds nothing.
   */
  commit(call: object, outcome: 'success' | 'failure' | undefined): void {
    if (this.breaker.halfOpen) {
      if (this.probe !== call) return;
      this.probe = undefined;
      // An aborted probe tells nothing: open again for as long as before, probe later.
      if (outcome === undefined) {
        this.#failedProbes--;
        this.#setPeriod();
        return void this.breaker.open();
      }
    } else if (this.breaker.opened || outcome === undefined) return;
    this.breaker.fire(outcome === 'success' ? succeeded : failed).catch(ignore);
  }

  /** Milliseconds until a probe may go out (0 while half-open: the probe's outcome decides). */
  get retryAfter(): number {
    return this.breaker.opened ? Math.max(0, this.openedAt + this.#openFor - Date.now()) : 0;
  }

  /** Called by the registry on eviction and on `close()`: clears opossum's interval and timer. */
  close(): void {
    this.breaker.shutdown();
  }
}
