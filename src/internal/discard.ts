/** Releasing a response that will not be handed out, so its connection goes back to the pool. */

/**
 * Bytes of a discarded body read to its end so that its connection goes back to the pool (a
 * cancelled body destroys its socket: a retry storm would open a connection per retry). Larger
 * bodies, by `content-length` or by the bytes read so far, are cancelled.
 */
export const DRAIN_MAX_BYTES = 64 * 1024;
/** Milliseconds a discarded body may take to drain before it is cancelled. */
export const DRAIN_MAX_MS = 1_000;

const ignore = () => {};

const drain = async (reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> => {
  const timer = setTimeout(() => void reader.cancel().catch(ignore), DRAIN_MAX_MS);
  timer.unref();
  try {
    for (let read = 0; ;) {
      const { done, value } = await reader.read();
      if (done) return;
      read += value.byteLength;
      if (read > DRAIN_MAX_BYTES) return void (await reader.cancel());
    }
  } catch {
    // The body failed or was cancelled: its socket is gone either way.
  } finally {
    clearTimeout(timer);
  }
};

/**
 * Releases a response we will not hand out: a small body is drained (its socket stays in the
 * pool), a large one cancelled (its socket closed). Never throws, never waits.
 */
export const discard = (response: Response): void => {
  const body = response.body;
  if (!body || response.bodyUsed || body.locked) return;
  const length = Number(response.headers.get('content-length') ?? 0);
  if (length > DRAIN_MAX_BYTES) body.cancel().catch(ignore);
  else void drain(body.getReader());
};
