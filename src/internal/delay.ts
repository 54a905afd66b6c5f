/**
 * Sleeps `ms` milliseconds and resolves `true`; rejects with `signal.reason` the moment `signal`
 * aborts. When `interrupt` aborts first (the client is closing), the sleep ends at once and resolves
 * `false`: the sleeper decides what to hand back. The timer is referenced on purpose: a script must
 * not exit in the middle of a back-off.
 */
export const delay = (ms: number, signal?: AbortSignal, interrupt?: AbortSignal): Promise<boolean> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    if (interrupt?.aborted) {
      resolve(false);
      return;
    }
    const end = (settle: () => void) => () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      interrupt?.removeEventListener('abort', onInterrupt);
      settle();
    };
    const onAbort = end(() => reject(signal?.reason));
    const onInterrupt = end(() => resolve(false));
    const timer = setTimeout(
      end(() => resolve(true)),
      ms,
    );
    signal?.addEventListener('abort', onAbort, { once: true });
    interrupt?.addEventListener('abort', onInterrupt, { once: true });
  });
