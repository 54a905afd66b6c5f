/**
 * Per-origin state: one record per origin (`scheme://host:port`), the only place any layer keeps
 * what outlives a call. Counters, the retry and hedge budgets, the latency window, server pushback,
 * the throttle's counts, the circuit breaker, the bulkhead, the upstream rotation and, for an upstream, its
 * requests in flight and outlier ejection of one origin live in one
 * `HostState`, are made in one place (`HostStates.get`), and are evicted together from one bounded
 * least-recently-used map (`maxHosts`), the breaker's timers shut down with them. `stats()` reads it.
 *
 * A piece a layer needs is made the first time a call with that layer on reaches the origin, from
 * that call's settings. **The rule when a later call's policy differs** (a per-request `policy`):
 * settings follow the call, counts follow the origin. The call's ratios, thresholds and caps apply
 * to the piece from then on (a budget's `ratio` and `minPerSecond`, the throttle's `k` and
 * `maxProbability`, the breaker's threshold and reset timeout); what was counted stays. What sizes
 * the counting stays as it was made: a window's length (a budget's, the throttle's, the breaker's
 * rolling window and buckets) and the breaker's volume threshold, since none of them can change
 * without dropping the counts.
 */
import type { Emit } from '../diagnostics.js';
import type { ResolvedBreaker, ResolvedBudget, ResolvedBulkhead, ResolvedThrottle } from '../options.js';
import { Bulkhead } from '../policy/bulkhead.js';
import { RatioBudget } from '../policy/budget.js';
import { LatencyWindow } from '../policy/latency-window.js';
import { Pushback } from '../policy/pushback.js';
import { OutlierState } from '../policy/outlier.js';
import { ThrottleState } from '../policy/throttle.js';
import { Circuit } from './circuit.js';
import type { OriginView } from './types.js';

/** Latest latency samples kept per origin (for the hedge layer's `'auto'` delay). */
export const LATENCY_SAMPLES = 1_000;
/** One origin's state. Layers read and change only their own fields. */
export class HostState implements OriginView {
  /** Calls whose first attempt went to this origin (the caller's URL). */
  calls = 0;
  /** Requests sent to this origin (first attempts, retries and hedges). */
  attempts = 0;
  /** Retries of calls to this origin. */
  retries = 0;
  /** Calls to this origin that ended in a rejection (network error, timeout, open breaker). */
  failures = 0;
  /** Hedges sent, and races a hedge won (hedge layer). */
  hedges = 0;
  hedgeWins = 0;
  /** Whether the hedge layer has seen this origin (its counters and latency are reported then). */
  hedged = false;
  /** Times to response headers, the hedge layer's `'auto'` delay. */
  readonly latency = new LatencyWindow(LATENCY_SAMPLES);
  /** A 429/503 `Retry-After` that holds back this origin's retries. */
  readonly pushback = new Pushback();
  /** Next upstream index for calls to this (logical) origin (`balance: 'round-robin'`). */
  rotation = 0;
  /** As an upstream: requests in flight (until their response headers), for `'least-request'`. */
  inFlight = 0;
  /** As an upstream: consecutive failures and ejections (outlier detection). */
  readonly outlier = new OutlierState();
  /** Whether the upstream layer has sent to this origin as an upstream (its outlier state is reported then). */
  upstream = false;

  #retryBudget: RatioBudget | undefined;
  #hedgeBudget: RatioBudget | undefined;
  #throttle: ThrottleState | undefined;
  #circuit: Circuit | undefined;
  #bulkhead: Bulkhead | undefined;

  constructor(
    readonly origin: string,
    readonly emit: Emit,
  ) {}

  /** The origin's retry budget, with the call's settings applied (see the rule above). */
  retryBudget(options: ResolvedBudget): RatioBudget {
    if (this.#retryBudget === undefined) this.#retryBudget = new RatioBudget(options);
    else this.#retryBudget.apply(options);
    return this.#retryBudget;
  }

  /** The origin's hedge budget, with the call's settings applied (the same rule: its window stays as made). */
  hedgeBudget(options: ResolvedBudget): RatioBudget {
    if (this.#hedgeBudget === undefined) this.#hedgeBudget = new RatioBudget(options);
    else this.#hedgeBudget.apply(options);
    return this.#hedgeBudget;
  }

  /** The origin's throttle counts, with the call's `k` and `maxProbability`. */
  throttle(options: ResolvedThrottle): ThrottleState {
    if (this.#throttle === undefined) this.#throttle = new ThrottleState(options);
    else this.#throttle.options = options;
    return this.#throttle;
  }

  /** The origin's circuit breaker, with the call's threshold and reset timeout. */
  circuit(settings: ResolvedBreaker): Circuit {
    if (this.#circuit === undefined) {
      this.#circuit = new Circuit(this.origin, settings, (from, to) =>
        this.emit({ type: 'breaker', host: this.origin, from, to }),
      );
    } else this.#circuit.apply(settings);
    return this.#circuit;
  }

  /** The origin's bulkhead, with the call's limit, queue length and queue timeout. */
  bulkhead(settings: ResolvedBulkhead): Bulkhead {
    if (this.#bulkhead === undefined) {
      this.#bulkhead = new Bulkhead(this.origin, settings, (change) =>
        this.emit({
          type: 'concurrency-limit',
          host: this.origin,
          from: change.from,
          to: change.to,
          rtt: Math.round(change.rtt * 10) / 10,
          baseline: Math.round(change.baseline * 10) / 10,
          drops: change.drops,
        }),
      );
    } else this.#bulkhead.apply(settings);
    return this.#bulkhead;
  }

  /** True when the origin's breaker would refuse a call now (open, or half-open with its probe out). */
  isOpen(): boolean {
    return this.#circuit?.refusing ?? false;
  }

  /** Milliseconds until the origin's breaker lets a probe through; 0 when it would let a call through now. */
  reopensIn(): number {
    return this.#circuit?.retryAfter ?? 0;
  }

  /** For `stats()`: plain JSON, each layer's part present once that layer has used the origin. */
  snapshot(): Record<string, unknown> {
    const out: Record<string, unknown> = {
      calls: this.calls,
      attempts: this.attempts,
      retries: this.retries,
      failures: this.failures,
    };
    if (this.#circuit) {
      const circuit = this.#circuit;
      const { fires, successes, failures, rejects } = circuit.breaker.stats;
      out.breaker = {
        state: circuit.state,
        fires,
        successes,
        failures,
        rejects,
        ...(circuit.state === 'open' && { retryAfter: Math.round(circuit.retryAfter) }),
      };
    }
    if (this.#retryBudget) out.retryBudget = this.#retryBudget.snapshot();
    const pause = this.pushback.describe();
    if (pause) out.pushback = pause;
    if (this.hedged) {
      out.hedges = this.hedges;
      out.hedgeWins = this.hedgeWins;
      if (this.#hedgeBudget) out.hedgeBudget = this.#hedgeBudget.snapshot();
      const latency: Record<string, number> = { samples: this.latency.size };
      for (const p of [50, 95, 99]) {
        const value = this.latency.percentile(p);
        if (value !== undefined) latency[`p${p}`] = Math.round(value * 10) / 10;
      }
      out.latency = latency;
    }
    if (this.#throttle) out.throttle = this.#throttle.snapshot();
    if (this.#bulkhead) {
      const bulkhead = this.#bulkhead;
      const baseline = bulkhead.baseline;
      out.bulkhead = {
        limit: bulkhead.limit,
        inFlight: bulkhead.active,
        queued: bulkhead.queued,
        rejected: bulkhead.rejected,
        ...(baseline !== undefined && { baseline: Math.round(baseline * 10) / 10 }),
      };
    }
    if (this.upstream) out.outlier = { ...this.outlier.snapshot(), inFlight: this.inFlight };
    return out;
  }

  /**
   * On eviction and on `close()`: stops the breaker's timers. (Requests waiting for a bulkhead slot
   * leave on the client's closing signal; an evicted origin's bulkhead serves those already in it.)
   */
  close(): void {
    this.#circuit?.close();
  }
}

/** Every origin's `HostState`, at most `max` of them; the least recently used is evicted and closed. */
export class HostStates {
  readonly #entries = new Map<string, HostState>();
  readonly #max: number;
  readonly #emit: Emit;
  #last: string | undefined;

  constructor(max: number, emit: Emit) {
    this.#max = max;
    this.#emit = emit;
  }

  /** The origin's state, made on first use (the one place it is made), marked most recently used. */
  get(origin: string): HostState {
    const entries = this.#entries;
    let entry = entries.get(origin);
    if (entry !== undefined) {
      // Re-insert to move to the end (most recent); skipped when it already is the most recent.
      if (origin !== this.#last) {
        entries.delete(origin);
        entries.set(origin, entry);
        this.#last = origin;
      }
      return entry;
    }
    this.#last = origin;
    entry = new HostState(origin, this.#emit);
    entries.set(origin, entry);
    if (entries.size > this.#max) {
      const oldest = entries.keys().next().value as string;
      entries.get(oldest)?.close();
      entries.delete(oldest);
    }
    return entry;
  }

  /** The origin's state without making it or touching its recency. */
  peek(origin: string): HostState | undefined {
    return this.#entries.get(origin);
  }

  get size(): number {
    return this.#entries.size;
  }

  entries(): IterableIterator<[string, HostState]> {
    return this.#entries.entries();
  }

  /** Closes and forgets every origin's state. */
  clear(): void {
    for (const entry of this.#entries.values()) entry.close();
    this.#entries.clear();
    this.#last = undefined;
  }
}
