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
