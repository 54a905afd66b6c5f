/**
 * Signal plumbing without `AbortSignal.any` where we can: a child controller that follows a parent
 * signal through one listener, removed by `release()`. Used when every signal involved is ours.
 * When a caller's signal is involved we keep `AbortSignal.any`, whose link outlives the call, so that
 * a caller's abort still errors a response body being read after the call resolved.
 */
export type Linked = { readonly signal: AbortSignal; abort(reason: unknown): void; release(): void };

const noop = () => {};

export const linkedController = (parent: AbortSignal | undefined, callerInvolved: boolean): Linked => {
  const controller = new AbortController();
  if (!parent) return { signal: controller.signal, abort: (reason) => controller.abort(reason), release: noop };
  if (callerInvolved) {
    return {
      signal: AbortSignal.any([parent, controller.signal]),
      abort: (reason) => controller.abort(reason),
      release: noop,
    };
  }
  if (parent.aborted) controller.abort(parent.reason);
  const follow = () => controller.abort(parent.reason);
  parent.addEventListener('abort', follow, { once: true });
  return {
    signal: controller.signal,
    abort: (reason) => controller.abort(reason),
    release: () => parent.removeEventListener('abort', follow),
  };
};

/**
 * One `abort` listener per signal, however many calls in flight watch it: a caller's signal shared
 * by many concurrent calls would otherwise carry one listener per call (MaxListenersExceededWarning
 * past 10). `onAbort` adds `callback`; `offAbort` removes it, and the listener with the last one.
 */
type FanOut = { readonly callbacks: Set<() => void>; readonly listener: () => void };
const fanOuts = new WeakMap<AbortSignal, FanOut>();

export const onAbort = (signal: AbortSignal, callback: () => void): void => {
  let fan = fanOuts.get(signal);
  if (!fan) {
    const callbacks = new Set<() => void>();
    const listener = () => {
      fanOuts.delete(signal);
      for (const run of callbacks) run();
      callbacks.clear();
    };
    fan = { callbacks, listener };
    fanOuts.set(signal, fan);
    signal.addEventListener('abort', listener, { once: true });
  }
  fan.callbacks.add(callback);
};

export const offAbort = (signal: AbortSignal, callback: () => void): void => {
  const fan = fanOuts.get(signal);
  if (!fan || !fan.callbacks.delete(callback) || fan.callbacks.size > 0) return;
  fanOuts.delete(signal);
  signal.removeEventListener('abort', fan.listener);
};
