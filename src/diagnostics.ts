/**
 * Events: given to `onEvent` and published on `node:diagnostics_channel` channels named
 * `resilient-fetch:<type>`. No event carries header values or bodies.
 */
import diagnostics from 'node:diagnostics_channel';

type Base<T extends string> = {
  readonly type: T;
  /** `scheme://host:port` the attempt went to (with `upstreams`: the upstream). */
  readonly host: string;
  /** The caller's origin, when it is not `host` (the attempt went to one of its `upstreams`). */
  readonly logicalHost?: string;
};

export type RetryEvent = Base<'retry'> & {
  /** The attempt that failed, 1-based. The next one has `http.request.resend_count` = `attempt`. */
  readonly attempt: number;
  /** OpenTelemetry's `http.request.resend_count` of the attempt about to be sent (1 for the first retry). */
  readonly resendCount: number;
  /** Milliseconds slept before the next attempt. */
  readonly delay: number;
  /** `status 503`, an error code such as `ECONNRESET`, or `attempt timeout`. */
  readonly reason: string;
};
export type GiveUpEvent = Base<'give-up'> & {
  /** The last attempt, 1-based. */
  readonly attempt: number;
  /** OpenTelemetry's `http.request.resend_count` of the last attempt sent (`attempt` − 1). */
  readonly resendCount: number;
  readonly reason: string;
  readonly why: string;
};
export type HedgeEvent = Base<'hedge'> & { readonly branch: number; readonly after: number };
export type HedgeWinEvent = Base<'hedge-win'> & { readonly branch: number; readonly elapsed: number };
export type BreakerEvent = Base<'breaker'> & {
  readonly from: 'closed' | 'open' | 'half-open';
  readonly to: 'closed' | 'open' | 'half-open';
};
export type BudgetExhaustedEvent = Base<'budget-exhausted'> & { readonly kind: 'retry' | 'hedge' };
export type FallbackEvent = Base<'fallback'> & { readonly reason: string };
export type ThrottleEvent = Base<'throttle'> & { readonly probability: number };
export type PushbackEvent = Base<'pushback'> & { readonly until: number; readonly status: number };
/** An upstream was ejected (outlier detection): it gets no attempts for `duration` ms. */
export type EjectionEvent = Base<'ejection'> & {
  readonly duration: number;
  /** Ejections of this upstream so far, this one included. */
  readonly ejections: number;
  /** `refused` (a refused connection) or `consecutive failures`. */
  readonly reason: string;
};

/** The origin's bulkhead refused a request (it was not sent). */
export type BulkheadRejectedEvent = Base<'bulkhead-rejected'> & {
  readonly reason: 'queue full' | 'queue timeout';
  /** The concurrency limit then. */
  readonly limit: number;
  /** Requests waiting for a slot then. */
  readonly queued: number;
};
/** An adaptive bulkhead (`maxConcurrent: 'auto'`) changed the origin's limit (by 1 or more). */
export type ConcurrencyLimitEvent = Base<'concurrency-limit'> & {
  readonly from: number;
  readonly to: number;
  /** Average time to response headers in the last window, and the long-term average it is judged against, ms. */
  readonly rtt: number;
  readonly baseline: number;
  /** Requests the origin answered with an overload signal (429, 503, attempt timeout) in the window. */
  readonly drops: number;
};

export type ResilientEvent =
  | RetryEvent
  | GiveUpEvent
  | HedgeEvent
  | HedgeWinEvent
  | BreakerEvent
  | BudgetExhaustedEvent
  | FallbackEvent
  | ThrottleEvent
  | PushbackEvent
  | EjectionEvent
  | BulkheadRejectedEvent
  | ConcurrencyLimitEvent;

export type EventType = ResilientEvent['type'];

/** Channel name for an event type: `resilient-fetch:retry`, `resilient-fetch:breaker`, ... */
export const channelName = (type: EventType): string => `resilient-fetch:${type}`;

/**
 * Every `node:diagnostics_channel` name this package publishes on, by event type.
 * @example diagnostics_channel.subscribe(CHANNELS.retry, (event) => console.log(event))
 */
export const CHANNELS = Object.freeze({
  retry: 'resilient-fetch:retry',
  'give-up': 'resilient-fetch:give-up',
  hedge: 'resilient-fetch:hedge',
  'hedge-win': 'resilient-fetch:hedge-win',
  breaker: 'resilient-fetch:breaker',
  'budget-exhausted': 'resilient-fetch:budget-exhausted',
  fallback: 'resilient-fetch:fallback',
  throttle: 'resilient-fetch:throttle',
  pushback: 'resilient-fetch:pushback',
  ejection: 'resilient-fetch:ejection',
  'bulkhead-rejected': 'resilient-fetch:bulkhead-rejected',
  'concurrency-limit': 'resilient-fetch:concurrency-limit',
} as const satisfies { readonly [T in EventType]: `resilient-fetch:${T}` });

const channels = new Map<string, diagnostics.Channel>();
const channelFor = (type: EventType): diagnostics.Channel => {
  let channel = channels.get(type);
  if (!channel) {
    channel = diagnostics.channel(channelName(type));
    channels.set(type, channel);
  }
  return channel;
};

export type Emit = (event: ResilientEvent) => void;

/** Builds the client's emitter: `onEvent` first, then the diagnostics channel if anyone listens. */
export const createEmitter =
  (onEvent?: (event: ResilientEvent) => void): Emit =>
  (event) => {
    if (onEvent) {
      try {
        onEvent(event);
      } catch (error) {
        // A throwing listener must not break the call it observes.
        process.emitWarning(`resilient-fetch: onEvent threw: ${String(error)}`);
      }
    }
    const channel = channelFor(event.type);
    if (channel.hasSubscribers) channel.publish(event);
  };
