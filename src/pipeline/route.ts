/**
 * Where an attempt really went, told to the layers above the one that chose it. The upstream layer
 * marks each response or error it hands up with the upstream's URL; the retry layer reads it for
 * `RetryContext.url`, an event's `host`, and the pushback of that upstream. Without upstreams
 * nothing is marked and the attempt's own URL is where it went.
 */
const routes = new WeakMap<object, URL>();

/** Marks `outcome` (a Response, or an error object) as the answer of `url`. Primitives cannot be marked. */
export const markRoute = <T>(outcome: T, url: URL): T => {
  if (typeof outcome === 'object' && outcome !== null) routes.set(outcome, url);
  return outcome;
};

/** The URL `outcome` came from, or `fallback` when it was not marked. */
export const routeOf = (outcome: unknown, fallback: URL): URL =>
  (typeof outcome === 'object' && outcome !== null && routes.get(outcome)) || fallback;

/** Normalised origins per (frozen, per-host cached) `upstreams` list. */
const normalised = new WeakMap<readonly string[], readonly string[]>();

/** The origins of a policy's `upstreams`, computed once per (frozen) list. */
export const upstreamOrigins = (upstreams: readonly string[]): readonly string[] => {
  let origins = normalised.get(upstreams);
  if (!origins) {
    origins = upstreams.map((upstream) => new URL(upstream).origin);
    normalised.set(upstreams, origins);
  }
  return origins;
};
