/**
 * The learned concurrency limit of `bulkhead: { maxConcurrent: 'auto' }`: Netflix's Gradient2
 * (concurrency-limits `Gradient2Limit`), with AIMD's multiplicative decrease on overload answers.
 *
 * Why Gradient2 and not Envoy's adaptive concurrency filter or Vegas: both of those judge latency
 * against a *minimum* RTT, which they must re-measure now and then by cutting concurrency to a floor
 * (Envoy: every 60 s ± jitter, down to 3 requests, for the time of 50 samples). A client cannot
 * afford that pause on every origin, and a minimum is easily fooled by one lucky sample. Gradient2
 * judges the recent average RTT (`rtt`) against a long-term average (`baseline`, an exponential
 * average over ~600 samples) and so follows a baseline that drifts, without probing.
 *
 * Why the decrease on overload answers: a server that sheds load answers 429/503 fast, and a
 * latency-only limit reads fast answers as health and grows. Netflix's AIMD limit backs off by 0.9
 * on a drop; so does this one, once per window that saw one (a 429 or 503, or an attempt timeout).
 *
 * Per window of `WINDOW_SAMPLES` answers (or `WINDOW_MS`, whichever ends first):
 * - with overload answers: `limit = max(MIN_LIMIT, limit × BACKOFF)`;
 * - else, when at least half the limit was in use (Gradient2 does not grow an idle limit):
 *   `gradient = clamp(TOLERANCE × baseline / rtt, 0.5, 1)`,
 *   `limit ← limit × (1 − SMOOTHING) + (limit × gradient + HEADROOM) × SMOOTHING`;
 * - the baseline decays by 0.9 when it is more than twice the recent RTT (after a long overload,
 *   Gradient2's own rule), so the limit recovers as soon as latency does.
 */

/** Netflix Gradient2's initial limit. */
export const INITIAL_LIMIT = 20;
/** Netflix uses 20; a client-side limit must be able to go lower for a small origin, but never to 0. */
export const MIN_LIMIT = 1;
/** Netflix Gradient2's smoothing: how much of each new estimate is taken. */
export const SMOOTHING = 0.2;
/** Netflix Gradient2's queue size: how much the limit may grow per window while latency stays at the baseline. */
export const HEADROOM = 4;
/** Latency up to this multiple of the baseline is not queueing (Netflix's earlier `rttTolerance`). */
export const TOLERANCE = 1.5;
/** Samples of the long-term average (Netflix's `longWindow`). */
export const BASELINE_SAMPLES = 600;
/** Samples averaged plainly before the long-term average starts (Netflix's warm-up). */
const WARMUP = 10;
/** AIMD's backoff ratio on an overload answer (Netflix `AIMDLimit` default). */
export const BACKOFF = 0.9;
/** A window closes after this many answers... */
export const WINDOW_SAMPLES = 10;
/** ...or this many milliseconds after its first answer. */
export const WINDOW_MS = 1_000;

export type LimitChange = { from: number; to: number; rtt: number; baseline: number; drops: number };

export class ConcurrencyLimit {
  #limit: number;
  readonly #max: number;
  #baseline = 0;
  #baselineSamples = 0;
  // The current window.
  #sum = 0;
  #samples = 0;
  #drops = 0;
  #busiest = 0;
  #opened = 0;

  constructor(max: number, initial = INITIAL_LIMIT) {
    this.#max = max;
    this.#limit = Math.min(max, initial);
  }

  /** Requests allowed in flight now (a whole number >= MIN_LIMIT). */
  get limit(): number {
    return Math.max(MIN_LIMIT, Math.floor(this.#limit));
  }

  /** The long-term average time to response headers, ms (0 before the first answer). */
  get baseline(): number {
    return this.#baseline;
  }

  /**
   * One answer: `rtt` ms from send to response headers, `drop` when it was an overload answer,
   * `inFlight` the requests in flight when it was sent. Returns the change when the limit changed.
   */
  record(rtt: number, drop: boolean, inFlight: number, now: number): LimitChange | undefined {
    if (this.#samples === 0 && this.#drops === 0) this.#opened = now;
    if (drop) this.#drops++;
    else {
      this.#sum += rtt;
      this.#samples++;
      this.#observe(rtt);
    }
    this.#busiest = Math.max(this.#busiest, inFlight);
    if (this.#samples + this.#drops < WINDOW_SAMPLES && now - this.#opened < WINDOW_MS) return undefined;
    return this.#close();
  }

  /** Adds a sample to the long-term average. */
  #observe(rtt: number): void {
    this.#baselineSamples++;
    if (this.#baselineSamples <= WARMUP) this.#baseline += (rtt - this.#baseline) / this.#baselineSamples;
    else this.#baseline += (rtt - this.#baseline) * (2 / (BASELINE_SAMPLES + 1));
  }

  #close(): LimitChange | undefined {
    const from = this.limit;
    const drops = this.#drops;
    const rtt = this.#samples > 0 ? this.#sum / this.#samples : 0;
    const busiest = this.#busiest;
    this.#sum = 0;
    this.#samples = 0;
    this.#drops = 0;
    this.#busiest = 0;
    if (drops > 0) this.#limit = Math.max(MIN_LIMIT, this.#limit * BACKOFF);
    else if (rtt > 0) {
      if (this.#baseline / rtt > 2) this.#baseline *= 0.9;
      if (busiest >= this.#limit / 2) {
        const gradient = Math.max(0.5, Math.min(1, (TOLERANCE * this.#baseline) / rtt));
        const estimate = this.#limit * gradient + HEADROOM;
        this.#limit = Math.max(MIN_LIMIT, Math.min(this.#max, this.#limit * (1 - SMOOTHING) + estimate * SMOOTHING));
      }
    }
    const to = this.limit;
    return to === from ? undefined : { from, to, rtt, baseline: this.#baseline, drops };
  }
}
