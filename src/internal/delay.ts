/**
 * Sleeps `ms` milliseconds; rejects with `signal.reason` the moment the signal aborts. The timer
 * is referenced on purpose: a script must not exit in the middle of a back-off.
 */
export const delay = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** Cancels a response body we will not hand out, so its socket goes back to the pool. */
export const discard = (response: Response): void => {
  if (response.body && !response.bodyUsed) response.body.cancel().catch(() => {});
};
