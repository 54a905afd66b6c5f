/**
 * A dispatch handler in undici 7's API (`onRequestStart` … `onResponseError`) turned into the
 * legacy one (`onConnect`, `onHeaders`, `onData`, `onComplete`, `onError`), which every undici
 * speaks: undici 6 (Node 20's and 22's bundled copy, whose dispatchers a process-wide proxy or mock
 * may be) knows only the legacy API, and undici 7's dispatchers turn handlers into it themselves
 * (`UnwrapHandler` in undici's lib/handler, which this mirrors; it is not exported).
 */
import type { Dispatcher } from 'undici';

type Abort = (reason?: Error) => void;

class Controller implements Dispatcher.DispatchController {
  rawHeaders: Buffer[] | null = null;
  rawTrailers: Buffer[] | null = null;
  resumeSocket: (() => void) | null = null;
  #paused = false;
  #aborted = false;
  #reason: Error | null = null;
  readonly #abort: Abort;

  constructor(abort: Abort) {
    this.#abort = abort;
  }
  get aborted() {
    return this.#aborted;
  }
  get paused() {
    return this.#paused;
  }
  get reason() {
    return this.#reason;
  }
  pause() {
    this.#paused = true;
  }
  resume() {
    if (!this.#paused) return;
    this.#paused = false;
    this.resumeSocket?.();
  }
  abort(reason: Error) {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#abort(reason);
  }
}

/** Raw header pairs as undici's `parseHeaders` gives them (only for handlers that read the parsed form). */
const parse = (raw: Buffer[] | string[] | null | undefined): Record<string, string | string[]> => {
  const headers: Record<string, string | string[]> = {};
  if (!raw) return headers;
  for (let index = 0; index + 1 < raw.length; index += 2) {
    const name = String(raw[index]).toLowerCase();
    const value = String(raw[index + 1]);
    const existing = headers[name];
    if (existing === undefined) headers[name] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else headers[name] = [existing, value];
  }
  return headers;
};

export const toLegacyHandler = (handler: Dispatcher.DispatchHandler): Dispatcher.DispatchHandler => {
  let controller: Controller | undefined;
  const legacy = {
    onConnect: (abort: Abort) => {
      controller = new Controller(abort);
      handler.onRequestStart?.(controller, {});
    },
    onHeaders: (status: number, rawHeaders: Buffer[], resume: () => void, statusText?: string) => {
      if (!controller) return false;
      controller.resumeSocket = resume;
      controller.rawHeaders = rawHeaders;
      handler.onResponseStart?.(controller, status, parse(rawHeaders), statusText ?? '');
      return !controller.paused;
    },
    onData: (chunk: Buffer) => {
      if (!controller) return false;
      handler.onResponseData?.(controller, chunk);
      return !controller.paused;
    },
    onComplete: (rawTrailers: Buffer[] | string[] | null) => {
      if (!controller) return;
      controller.rawTrailers = rawTrailers as Buffer[] | null;
      handler.onResponseEnd?.(controller, parse(rawTrailers));
    },
    onError: (error: Error) => {
      controller ??= new Controller(() => {});
      handler.onResponseError?.(controller, error);
    },
  };
  return legacy as unknown as Dispatcher.DispatchHandler;
};
