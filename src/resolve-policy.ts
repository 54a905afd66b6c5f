/**
 * defaults → client `defaults` → the most specific `hosts` entry → per-request `policy`.
 * Merges field by field, never mutates its input, and freezes what it returns.
 */
import { DEFAULTS, LAYER_DEFAULTS } from './defaults.js';
import type {
  BackoffOptions,
  Budget,
  BudgetOptions,
  HedgeOptions,
  Policy,
  ResilientFetchOptions,
  ResolvedBreaker,
  ResolvedBudget,
  ResolvedHedge,
  ResolvedPolicy,
  ResolvedRetry,
  ResolvedThrottle,
  ResolvedTimeout,
  RetryOptions,
} from './options.js';
import { validateHostPattern, validatePolicy } from './validate.js';

/** A layer's setting once merged: its options, or `false` (off); `undefined` when nothing set it. */
type Layer<T> = T | false | undefined;

/**
 * The one merge rule of every layer: `undefined` inherits, `false` switches off, `true` switches on
 * with the layer's built-in defaults (`whenOn`, whatever was inherited), and an object is merged
 * field by field over what it inherits (over `whenOn` when that was off).
 */
const mergeLayer = <T extends object>(base: Layer<T>, over: T | boolean | undefined, whenOn: T): Layer<T> => {
  if (over === undefined) return base;
  if (over === false) return false;
  if (over === true) return whenOn;
  return { ...(base || whenOn), ...over };
};

/** A budget written as a number is its ratio: `0.2` is `{ ratio: 0.2 }`. */
const budgetOptions = (budget: Budget | undefined): BudgetOptions | false | undefined =>
  typeof budget === 'number' ? { ratio: budget } : budget;

/** Merges a budget field by field over the inherited one (over the defaults when that was off). */
const mergeBudget = (base: Budget | undefined, over: Budget | undefined): BudgetOptions | false | undefined => {
  const from = budgetOptions(base);
  const to = budgetOptions(over);
  if (to === undefined) return from;
  if (to === false) return false;
  return { ...(from || {}), ...to };
};

/** `retry: 3` is `{ limit: 3 }` (as in ky). */
const retryOptions = (retry: Policy['retry']): RetryOptions | boolean | undefined =>
  typeof retry === 'number' ? { limit: retry } : retry;

const mergeRetry = (base: Layer<RetryOptions>, over: Policy['retry']): Layer<RetryOptions> => {
  const next = retryOptions(over);
  const merged = mergeLayer(base, next, LAYER_DEFAULTS.retry as RetryOptions);
  if (!merged || typeof next !== 'object') return merged;
  const from = base || (LAYER_DEFAULTS.retry as RetryOptions);
  const backoff =
    typeof next.backoff === 'object' && typeof from.backoff === 'object' ? { ...from.backoff, ...next.backoff } : merged.backoff;
  const budget = mergeBudget(from.budget, next.budget);
  return { ...merged, ...(backoff && { backoff }), ...(budget !== undefined && { budget }) };
};

const mergeHedge = (base: Layer<HedgeOptions>, over: Policy['hedge']): Layer<HedgeOptions> => {
  const merged = mergeLayer(base, over, LAYER_DEFAULTS.hedge as HedgeOptions);
  if (!merged || typeof over !== 'object') return merged;
  const budget = mergeBudget((base || LAYER_DEFAULTS.hedge).budget, over.budget);
  return { ...merged, ...(budget !== undefined && { budget }) };
};

/** A policy after merging: every layer an object or `false` (no `true`, no number shorthand left). */
type MergedPolicy = Omit<Policy, 'retry' | 'hedge' | 'breaker' | 'timeout' | 'throttle' | 'outlierDetection' | 'bulkhead'> & {
  retry?: Layer<RetryOptions>;
  hedge?: Layer<HedgeOptions>;
  breaker?: Layer<Exclude<Policy['breaker'], boolean | undefined>>;
  timeout?: Layer<Exclude<Policy['timeout'], boolean | undefined>>;
  throttle?: Layer<Exclude<Policy['throttle'], boolean | undefined>>;
  outlierDetection?: Layer<Exclude<Policy['outlierDetection'], boolean | undefined>>;
  bulkhead?: Layer<Exclude<Policy['bulkhead'], boolean | undefined>>;
};

const mergePolicy = (base: MergedPolicy, over: Policy | undefined): MergedPolicy => {
  if (!over) return base;
  const { retry: _r, hedge: _h, breaker: _b, timeout: _t, throttle: _th, outlierDetection: _o, bulkhead: _bh, ...plain } = over;
  const merged: MergedPolicy = { ...base, ...plain };
  const layers = {
    retry: mergeRetry(base.retry, over.retry),
    hedge: mergeHedge(base.hedge, over.hedge),
    breaker: mergeLayer(base.breaker, over.breaker, LAYER_DEFAULTS.breaker),
    timeout: mergeLayer(base.timeout, over.timeout, LAYER_DEFAULTS.timeout),
    throttle: mergeLayer(base.throttle, over.throttle, LAYER_DEFAULTS.throttle),
    bulkhead: mergeLayer(base.bulkhead, over.bulkhead, LAYER_DEFAULTS.bulkhead),
    outlierDetection: mergeLayer(base.outlierDetection, over.outlierDetection, LAYER_DEFAULTS.outlierDetection),
  };
  for (const [key, value] of Object.entries(layers)) {
    if (value !== undefined) (merged as Record<string, unknown>)[key] = value;
  }
  return merged;
};

const upper = (methods: readonly string[]): ReadonlySet<string> => new Set(methods.map((m) => m.toUpperCase()));

/** A budget with every field: the one resolved shape of `retry.budget` and `hedge.budget`. */
const freezeBudget = (budget: Budget | undefined, defaults: ResolvedBudget): ResolvedBudget | false => {
  const options = budgetOptions(budget);
  return options === false ? false : Object.freeze({ ...defaults, ...options });
};

const freezeRetry = (retry: RetryOptions): ResolvedRetry => {
  const d = LAYER_DEFAULTS.retry;
  const backoff =
    typeof retry.backoff === 'function'
      ? retry.backoff
      : Object.freeze({ ...d.backoff, ...(retry.backoff as BackoffOptions | undefined) } as Required<BackoffOptions>);
  return Object.freeze({
    limit: retry.limit ?? d.limit,
    methods: upper(retry.methods ?? d.methods),
    statusCodes: new Set(retry.statusCodes ?? d.statusCodes),
    errorCodes: new Set(retry.errorCodes ?? d.errorCodes),
    backoff,
    maxRetryAfter: retry.maxRetryAfter ?? d.maxRetryAfter,
    budget: freezeBudget(retry.budget, d.budget),
    shouldRetry: retry.shouldRetry,
  });
};

const freezeHedge = (hedge: HedgeOptions): ResolvedHedge => {
  const d = LAYER_DEFAULTS.hedge;
  const delay =
    typeof hedge.delay === 'number'
      ? hedge.delay
      : Object.freeze({ ...d.delay, ...(typeof hedge.delay === 'object' ? hedge.delay : {}) });
  return Object.freeze({
    delay,
    maxHedges: hedge.maxHedges ?? d.maxHedges,
    methods: upper(hedge.methods ?? d.methods),
    budget: freezeBudget(hedge.budget, d.budget),
  });
};

const headerOf = (name: string | false): string | false => (name === false ? false : name.toLowerCase());

/** Turns a policy into its frozen, fully populated twin (the built-in defaults where it sets nothing). */
export const freezePolicy = (policy: Policy): ResolvedPolicy => freezeMerged(mergePolicy({}, policy));

const freezeMerged = (policy: MergedPolicy): ResolvedPolicy => {
  const timeout: ResolvedTimeout = Object.freeze({ ...LAYER_DEFAULTS.timeout, ...(policy.timeout || {}) });
  const breaker: ResolvedBreaker | false =
    policy.breaker === false
      ? false
      : Object.freeze({
          ...LAYER_DEFAULTS.breaker,
          ...policy.breaker,
          failureStatusCodes: new Set(policy.breaker?.failureStatusCodes ?? LAYER_DEFAULTS.breaker.failureStatusCodes),
          fallback: policy.breaker?.fallback,
        });
  const throttle: ResolvedThrottle | false = policy.throttle
    ? Object.freeze({ ...LAYER_DEFAULTS.throttle, ...policy.throttle })
    : false;
  return Object.freeze({
    retry: policy.retry === false ? false : freezeRetry(policy.retry ?? {}),
    hedge: policy.hedge ? freezeHedge(policy.hedge) : false,
    breaker,
    timeout: policy.timeout === false ? Object.freeze({ attempt: false, total: false } as ResolvedTimeout) : timeout,
    throttle,
    maxBufferBytes: policy.maxBufferBytes ?? DEFAULTS.maxBufferBytes,
    upstreams: Object.freeze([...(policy.upstreams ?? [])]),
    balance: policy.balance ?? DEFAULTS.balance,
    outlierDetection:
      policy.outlierDetection === false
        ? false
        : Object.freeze({ ...LAYER_DEFAULTS.outlierDetection, ...policy.outlierDetection }),
    bulkhead: policy.bulkhead ? Object.freeze({ ...LAYER_DEFAULTS.bulkhead, ...policy.bulkhead }) : false,
    deadlineHeader: headerOf(policy.deadlineHeader ?? DEFAULTS.deadlineHeader),
    attemptHeader: headerOf(policy.attemptHeader ?? DEFAULTS.attemptHeader),
  });
};

/** The built-in defaults as a merged policy: what `defaults` is merged over. */
const BASE: MergedPolicy = {
  retry: DEFAULTS.retry as RetryOptions,
  hedge: DEFAULTS.hedge,
  breaker: DEFAULTS.breaker,
  timeout: DEFAULTS.timeout,
  throttle: DEFAULTS.throttle,
  maxBufferBytes: DEFAULTS.maxBufferBytes,
  balance: DEFAULTS.balance,
  outlierDetection: DEFAULTS.outlierDetection,
};

const DEFAULT_PORTS: Readonly<Record<string, string>> = { 'http:': '80', 'https:': '443' };

/** `suffix` is what the host must end with (`.svc` or `.svc:8080`); `rank` is the length of its hostname part. */
type Wildcard = { readonly suffix: string; readonly rank: number; readonly withPort: boolean; readonly policy: Policy };

/** Finds the `hosts` entry for a URL: exact `host:port`, then exact hostname, then the longest `*.suffix`. */
export const createHostMatcher = (hosts: Readonly<Record<string, Policy>> = {}) => {
  const exact = new Map<string, Policy>();
  const wildcards: Wildcard[] = [];
  for (const [key, policy] of Object.entries(hosts)) {
    const pattern = validateHostPattern(key, `hosts[${JSON.stringify(key)}]`);
    if (pattern.startsWith('*.')) {
      const suffix = pattern.slice(1);
      const withPort = /:\d+$/.test(suffix);
      wildcards.push({ suffix, rank: withPort ? suffix.lastIndexOf(':') : suffix.length, withPort, policy });
    } else exact.set(pattern, policy);
  }
  // Longest hostname suffix first (a port does not make '*.api:80' longer than '*.b.api'); at equal
  // length a pattern with a port is the more specific one.
  wildcards.sort((a, b) => b.rank - a.rank || Number(b.withPort) - Number(a.withPort));
  return (url: URL): Policy | undefined => {
    const hostname = url.hostname;
    // URL.host drops a scheme's default port; a pattern may still name it ('api.example.com:443').
    const host = url.port || !DEFAULT_PORTS[url.protocol] ? url.host : `${hostname}:${DEFAULT_PORTS[url.protocol]}`;
    const found = exact.get(host) ?? exact.get(hostname);
    if (found) return found;
    for (const w of wildcards) {
      if ((w.withPort ? host : hostname).endsWith(w.suffix)) return w.policy;
    }
    return undefined;
  };
};

export type PolicyResolver = (url: URL, override?: Policy) => ResolvedPolicy;

/**
 * Builds the per-call resolver. Options must have been validated. Resolved host policies are
 * cached by `URL.host` (bounded), so a call without an override does no merging.
 */
export const createPolicyResolver = (options: ResilientFetchOptions, maxCached = 1_000): PolicyResolver => {
  const base = mergePolicy(BASE, options.defaults);
  const match = createHostMatcher(options.hosts);
  const byHost = new Map<string, { policy: MergedPolicy; resolved: ResolvedPolicy }>();
  const forHost = (url: URL) => {
    // By origin: http://a.com and https://a.com may match different `host:port` patterns.
    let entry = byHost.get(url.origin);
    if (!entry) {
      const policy = mergePolicy(base, match(url));
      entry = { policy, resolved: freezeMerged(policy) };
      if (byHost.size >= maxCached) byHost.delete(byHost.keys().next().value as string);
      byHost.set(url.origin, entry);
    }
    return entry;
  };
  return (url, override) => {
    const entry = forHost(url);
    if (override === undefined) return entry.resolved;
    return freezeMerged(mergePolicy(entry.policy, validatePolicy(override, 'init.policy')));
  };
};
