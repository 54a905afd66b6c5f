/**
 * The learned concurrency limit of `bulkhead: { maxConcurrent: 'auto' }`: Netflix Gradient2's update
 * rule (concurrency-limits `Gradient2Limit`), judged against a windowed minimum RTT as Envoy's
 * adaptive concurrency filter is, plus AIMD's multiplicative decrease on overload answers.
 *
 * Per window of `WINDOW_SAMPLES` answers (or `WINDOW_MS`, whichever ends first), with `rtt` the
 * window's average time to response headers and `baseline` the least window average of the last
 * `BASELINE_MS`:
 * - with overload answers (a 429 or 503, an attempt timeout):
 *   `limit ← max(MIN_LIMIT, point × BACKOFF)`, `point` where the origin pushed back: while the
 *   limit is above any point seen (at the start, or after growing past it) the most requests in
 *   flight when a refused one was sent (the limit falls there at once, not 0.9 at a time), else the
 *   limit itself (a low in-flight count then is an origin still paying for an earlier burst of
 *   rejections, and falling to it cut the limit to a third in the benchmark); at most once per
 *   round trip (as TCP lowers its window once per loss event), since answers within one baseline
 *   RTT of a decrease were caused by the old limit. The point is kept as the higher of the old and
 *   the new unless the limit regrew by `REGROWN` since the last decrease (see `#overloadedAt`);
 * - else, when at least half the limit was in use (Gradient2 does not grow an idle limit):
 *   `gradient = clamp(baseline / rtt, 0.5, 1)`,
 *   `limit ← limit × (1 − SMOOTHING) + (limit × gradient + headroom) × SMOOTHING`. It settles where
 *   about `HEADROOM` requests wait at the origin: enough to keep it busy, few enough that latency
 *   stays near its unloaded value. Within 10 % of the limit that last drew overload answers the
 *   headroom is `HEADROOM × PLATEAU` (CUBIC's plateau near its last loss), so a server that sheds
 *   load is probed rarely instead of every few windows. Below `point × BACKOFF`, while latency is
 *   within `UNQUEUED` of the baseline, the headroom is the limit itself (TCP's slow start, ending at
 *   its threshold): the limit grows by a fifth per window back to just under where the origin last
 *   pushed back.
 *
 * Why these choices:
 * - The baseline is a *windowed minimum*, not Gradient2's long exponential average: under a
 *   sustained overload that average follows the queue up within seconds (at 100 answers/s a
 *   600-sample average moves 63 % of the way in 6 s) and the limit drifts up with it, which is the
 *   queue growth the limit exists to stop. A minimum over 30 s of window averages (not of single
 *   answers: one lucky sample does not set it) holds for that long.
 * - No probing: Envoy re-measures its minimum every 60 s ± jitter by cutting concurrency to 3 for
 *   50 samples, a pause a client cannot afford on every origin. Instead the window minimum ages
 *   out: a baseline that really rose (a slower backend) is the new one after `BASELINE_MS`.
 * - The decrease on overload answers: a server that sheds load answers 429/503 fast, and a
 *   latency-only limit reads fast answers as health and grows (Netflix's AIMD limit backs off by 0.9
 *   on a drop; so does this one).
 */

/** Netflix Gradient2's initial limit. */
export const INITIAL_LIMIT = 20;
/** Netflix uses 20; a client-side limit must be able to go lower for a small origin, but never to 0. */
export const MIN_LIMIT = 1;
/** Netflix Gradient2's smoothing: how much of each new estimate is taken. */
export const SMOOTHING = 0.2;
/**
 * Requests allowed to wait at the origin (Gradient2's `queueSize`, 4; Envoy's headroom is the square
 * root of the limit): 2 keeps an origin of a few dozen slots busy at about 1.2 × its unloaded latency.
 */
export const HEADROOM = 2;
/** How long the least window RTT stays the baseline, ms. */
export const BASELINE_MS = 30_000;
/** The baseline's buckets: the minimum of each `BASELINE_MS / BASELINE_BUCKETS` ms. */
const BASELINE_BUCKETS = 30;
/** AIMD's backoff ratio on an overload answer (Netflix `AIMDLimit` default). */
export const BACKOFF = 0.9;
/**
 * Regrowth since the last decrease (×) after which a refusal sets a new push-back point, lower or
 * higher; with less, a refusal is the echo of that decrease and keeps the higher point.
 */
export const REGROWN = 1.1;
/** How much slower the limit grows within 10 % of the limit that last drew overload answers. */
export const PLATEAU = 0.1;
/**
 * A gradient at least this high (latency within about 10 % of the baseline) counts as no queueing,
 * for slow start: window averages are never exactly the baseline.
 */
export const UNQUEUED = 0.9;
/** A window closes after this many answers... */
export const WINDOW_SAMPLES = 10;
/** ...or this many milliseconds after its first answer. */
export const WINDOW_MS = 1_000;

export type LimitChange = { from: number; to: number; rtt: number; baseline: number; drops: number };

export class ConcurrencyLimit {
  #limit: number;
  readonly #max: number;
  /** Least window RTT per bucket of the baseline's span: [bucket start, min]. */
  readonly #minima: Array<[number, number]> = [];
  // The current window.
  #sum = 0;
  #samples = 0;
  #drops = 0;
  #busiest = 0;
  /** The most requests in flight when a request that drew an overload answer was sent, this window. */
  #dropInFlight = 0;
  #opened = 0;
  /** When the limit was last lowered for overload answers. */
  #loweredAt = -Infinity;
  /** The limit the last decrease set (Infinity: none yet). */
  #lowered = Infinity;
  /**
   * The concurrency the origin pushes back at (0: none yet), the limit regrows to after a decrease.
   * A refusal right after a decrease (the limit has not regrown by `REGROWN` since) keeps the higher
   * point: the echo of a burst of rejections whose cost the origin is still paying does not make it
   * forget where it stood. A refusal after regrowing sets it, lower or higher: a capacity that really
   * fell is found at the first regrowth past it.
   */
  #overloadedAt = 0;

  constructor(max: number, initial = INITIAL_LIMIT) {
    this.#max = max;
    this.#limit = Math.min(max, initial);
  }

  /** Requests allowed in flight now (a whole number >= MIN_LIMIT). */
  get limit(): number {
    return Math.max(MIN_LIMIT, Math.round(this.#limit));
  }

  /** The least window RTT of the last `BASELINE_MS`, ms (0 before the first window). */
  get baseline(): number {
    let least = Infinity;
    for (const [, min] of this.#minima) least = Math.min(least, min);
    return least === Infinity ? 0 : least;
  }

  /**
   * One answer: `rtt` ms from send to response headers, `drop` when it was an overload answer,
   * `inFlight` the requests in flight when it was sent. Returns the change when the limit changed.
   */
  record(rtt: number, drop: boolean, inFlight: number, now: number): LimitChange | undefined {
    if (drop && now - this.#loweredAt < Math.max(this.baseline, rtt)) return undefined;
    if (this.#samples === 0 && this.#drops === 0) this.#opened = now;
    if (drop) {
      this.#drops++;
      this.#dropInFlight = Math.max(this.#dropInFlight, inFlight);
    } else {
      this.#sum += rtt;
      this.#samples++;
    }
    this.#busiest = Math.max(this.#busiest, inFlight);
    if (this.#samples + this.#drops < WINDOW_SAMPLES && now - this.#opened < WINDOW_MS) return undefined;
    return this.#close(now);
  }

  /** Keeps `rtt` in the baseline's bucket for `now`, and forgets buckets older than `BASELINE_MS`. */
  #observe(rtt: number, now: number): void {
    const span = BASELINE_MS / BASELINE_BUCKETS;
    const start = now - (now % span);
    const last = this.#minima.at(-1);
    if (last && last[0] === start) last[1] = Math.min(last[1], rtt);
    else this.#minima.push([start, rtt]);
    while (this.#minima.length > 0 && (this.#minima[0] as [number, number])[0] <= now - BASELINE_MS) this.#minima.shift();
  }

  #close(closedAt: number): LimitChange | undefined {
    const from = this.limit;
    const drops = this.#drops;
    const rtt = this.#samples > 0 ? this.#sum / this.#samples : 0;
    const busiest = this.#busiest;
    const dropInFlight = this.#dropInFlight;
    this.#sum = 0;
    this.#samples = 0;
    this.#drops = 0;
    this.#busiest = 0;
    this.#dropInFlight = 0;
    if (rtt > 0) this.#observe(rtt, closedAt);
    if (drops > 0) {
      // Above any push-back seen (the start, or after growing past it), the limit was never tested:
      // the concurrency in flight when the origin said no is where it stands. At or below a known
      // push-back point, an overload answer means a little too much: the limit backs off from itself
      // (the in flight of a request refused then may be low only because the origin was still paying
      // for an earlier burst of rejections).
      const untested = this.#limit > this.#overloadedAt * (2 - BACKOFF);
      const pushedBackAt = untested ? Math.min(this.#limit, dropInFlight) : this.#limit;
      // Refused again after regrowing by a tenth or more since the last decrease: this is where the
      // origin stands now, lower or higher than before. Refused with no such regrowth (the echo of
      // the last decrease, or a creep at the plateau): the higher of the two points is kept.
      const regrown = this.#limit >= this.#lowered * REGROWN;
      this.#overloadedAt = regrown ? pushedBackAt : Math.max(pushedBackAt, this.#overloadedAt);
      this.#limit = Math.max(MIN_LIMIT, pushedBackAt * BACKOFF);
      this.#lowered = this.#limit;
      this.#loweredAt = closedAt;
    } else if (rtt > 0 && busiest >= this.#limit / 2) {
      const gradient = Math.max(0.5, Math.min(1, this.baseline / rtt));
      const below = this.#limit < this.#overloadedAt * BACKOFF;
      const near = !below && this.#limit <= this.#overloadedAt * (2 - BACKOFF);
      // Below the limit that last drew overload answers, with no queueing seen: back up fast (TCP's
      // slow start up to its threshold), so one bad window does not cost many seconds of capacity.
      const slowStart = below && gradient >= UNQUEUED;
      const headroom = near ? HEADROOM * PLATEAU : slowStart ? Math.max(HEADROOM, this.#limit) : HEADROOM;
      const estimate = this.#limit * gradient + headroom;
      const next = this.#limit * (1 - SMOOTHING) + estimate * SMOOTHING;
      // Slow start ends at its threshold (as TCP's at ssthresh): from there the plateau probes.
      const capped = slowStart ? Math.min(next, Math.max(this.#limit, this.#overloadedAt * BACKOFF)) : next;
      this.#limit = Math.max(MIN_LIMIT, Math.min(this.#max, capped));
    }
    const to = this.limit;
    return to === from ? undefined : { from, to, rtt, baseline: this.baseline, drops };
  }
}
