/**
 * What a global `Response` made with `new Response()` lacks to be fetch's: its URL list (behind
 * `url`, `redirected`, `clone()` and the `Response.prototype` getters), type `basic`, and headers
 * guarded `immutable`. Node's Response keeps that state out of reach except, on Node 20 and 22
 * (undici 6), under a `state` symbol: as @mswjs/interceptors does (`FetchResponse.setUrl`), the URL
 * list and type are written there, so every getter and `clone()` read the real state. Where it is
 * a private field (undici 7, Node 24), `url`, `redirected` and `type` become own properties and
 * `clone()` carries them over.
 */

const immutable = (): never => {
  throw new TypeError('immutable');
};

/** Headers whose mutators throw as fetch's do (guard `immutable`); everything else is `Headers.prototype`. */
const IMMUTABLE_HEADERS: Headers = Object.create(Headers.prototype, {
  append: { value: immutable },
  delete: { value: immutable },
  set: { value: immutable },
});

type ResponseState = { urlList: URL[]; type: string };

const STATE: symbol | undefined = (() => {
  const probe = new Response(null);
  const symbol = Object.getOwnPropertySymbols(probe).find((key) => key.description === 'state');
  const state = symbol && (probe as unknown as Record<symbol, Partial<ResponseState> | undefined>)[symbol];
  return state && Array.isArray(state.urlList) && typeof state.type === 'string' ? symbol : undefined;
})();

const OWN_FIELDS = ['url', 'redirected', 'type'] as const;

/** `clone()` as fetch's: the copy has the same URL list and type, and immutable headers. */
const FETCH_RESPONSE: Response = Object.create(Response.prototype, {
  clone: {
    value(this: Response): Response {
      const copy = Response.prototype.clone.call(this);
      Object.setPrototypeOf(copy.headers, IMMUTABLE_HEADERS);
      if (!STATE) {
        const fields: PropertyDescriptorMap = {};
        for (const name of OWN_FIELDS) fields[name] = { value: this[name], enumerable: true };
        Object.defineProperties(copy, fields);
      }
      return Object.setPrototypeOf(copy, FETCH_RESPONSE) as Response;
    },
    writable: true,
    configurable: true,
  },
});

/**
 * Makes `response` look to every reader as fetch's own would: `url` is `finalUrl` without its
 * fragment, `redirected` is true after a redirect, `type` is `type`, headers are immutable.
 */
export const asFetchResponse = (response: Response, finalUrl: URL | null, redirected: boolean, type: string): Response => {
  Object.setPrototypeOf(response.headers, IMMUTABLE_HEADERS);
  if (!finalUrl) {
    // No URL (a response fetch made without one): only the type to carry.
    if (STATE) (response as unknown as Record<symbol, ResponseState>)[STATE]!.type = type;
    else Object.defineProperty(response, 'type', { value: type, enumerable: true });
  } else if (STATE) {
    const state = (response as unknown as Record<symbol, ResponseState>)[STATE] as ResponseState;
    // fetch's list holds every URL of the chain; the getters read its length and its last entry.
    state.urlList = redirected ? [finalUrl, finalUrl] : [finalUrl];
    state.type = type;
  } else {
    const href = finalUrl.href;
    const hash = href.indexOf('#');
    Object.defineProperties(response, {
      url: { value: hash < 0 ? href : href.slice(0, hash), enumerable: true },
      redirected: { value: redirected, enumerable: true },
      type: { value: type, enumerable: true },
    });
  }
  return Object.setPrototypeOf(response, FETCH_RESPONSE) as Response;
};
