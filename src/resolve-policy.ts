/**
 * defaults → client `defaults` → the most specific `hosts` entry → per-request `policy`.
 * Merges field by field, never mutates its input, and freezes what it returns.
 */
import { DEFAULTS } from './defaults.js';
import type {
  BackoffOptions,
  HedgeOptions,
  Policy,
  ResilientFetchOptions,
  ResolvedBreaker,
  ResolvedHedge,
  ResolvedPolicy,
  ResolvedRetry,
  ResolvedThrottle,
  ResolvedTimeout,
  RetryBudgetOptions,
  RetryOptions,
} from './options.js';
import { validateHostPattern, validatePolicy } from './validate.js';

type Layer<T> = T | false | undefined;

/** `false` switches off; an object is merged over the base (or over the defaults when the base is off). */
const mergeLayer = <T extends object>(base: Layer<T>, over: Layer<T>, whenOn: T): Layer<T> => {
  if (over === undefined) return base;
  if (over === false) return false;
  return { ...(base || whenOn), ...over };
};

const mergeRetry = (base: Layer<RetryOptions>, over: Layer<RetryOptions>): Layer<RetryOptions> => {
  const merged = mergeLayer(base, over, DEFAULTS.retry as RetryOptions);
  if (!merged || !over) return merged;
  const from = base || DEFAULTS.retry;
  const backoff =
    typeof over.backoff === 'object' && typeof from.backoff === 'object' ? { ...from.backoff, ...over.backoff } : merged.backoff;
  const budget = over.budget && from.budget ? ({ ...from.budget, ...over.budget } as RetryBudgetOptions) : merged.budget;
  return { ...merged, ...(backoff && { backoff }), ...(budget !== undefined && { budget }) };
};

const mergePolicy = (base: Policy, over: Policy | undefined): Policy => {
  if (!over) return base;
  const merged: Policy = { ...base, ...over };
  const retry = mergeRetry(base.retry, over.retry);
  const hedge = mergeLayer(base.hedge, over.hedge, DEFAULTS.hedgeWhenOn as HedgeOptions);
  const breaker = mergeLayer(base.breaker, over.breaker, DEFAULTS.breaker);
  const timeout = mergeLayer(base.timeout, over.timeout, DEFAULTS.timeout);
  const throttle = mergeLayer(base.throttle, over.throttle, DEFAULTS.throttleWhenOn);
  if (retry !== undefined) merged.retry = retry;
  if (hedge !== undefined) merged.hedge = hedge;
  if (breaker !== undefined) merged.breaker = breaker;
  if (timeout !== undefined) merged.timeout = timeout;
  if (throttle !== undefined) merged.throttle = throttle;
  const outlierDetection = mergeLayer(base.outlierDetection, over.outlierDetection, DEFAULTS.outlierDetection);
  if (outlierDetection !== undefined) merged.outlierDetection = outlierDetection;
  const bulkhead = mergeLayer(base.bulkhead, over.bulkhead, DEFAULTS.bulkheadWhenOn);
  if (bulkhead !== undefined) merged.bulkhead = bulkhead;
  return merged;
};

const upper = (methods: readonly string[]): ReadonlySet<string> => new Set(methods.map((m) => m.toUpperCase()));

const freezeRetry = (retry: RetryOptions): ResolvedRetry => {
  const d = DEFAULTS.retry;
  const backoff =
    typeof retry.backoff === 'function'
      ? retry.backoff
      : Object.freeze({ ...d.backoff, ...(retry.backoff as BackoffOptions | undefined) } as Required<BackoffOptions>);
  const budget = retry.budget === false ? false : Object.freeze({ ...d.budget, ...retry.budget });
  return Object.freeze({
    limit: retry.limit ?? d.limit,
    methods: upper(retry.methods ?? d.methods),
    statusCodes: new Set(retry.statusCodes ?? d.statusCodes),
    errorCodes: new Set(retry.errorCodes ?? d.errorCodes),
    backoff,
    maxRetryAfter: retry.maxRetryAfter ?? d.maxRetryAfter,
    budget,
    shouldRetry: retry.shouldRetry,
  });
};

const freezeHedge = (hedge: HedgeOptions): ResolvedHedge => {
  const d = DEFAULTS.hedgeWhenOn;
  const delay =
    typeof hedge.delay === 'number'
      ? hedge.delay
      : Object.freeze({ ...d.delay, ...(typeof hedge.delay === 'object' ? hedge.delay : {}) });
  return Object.freeze({
    delay,
    maxHedges: hedge.maxHedges ?? d.maxHedges,
    methods: upper(hedge.methods ?? d.methods),
    budget: hedge.budget ?? d.budget,
  });
};

const headerOf = (name: string | false): string | false => (name === false ? false : name.toLowerCase());

/** Turns a merged policy into its frozen, fully populated twin. */
export const freezePolicy = (policy: Policy): ResolvedPolicy => {
  const timeout: ResolvedTimeout = Object.freeze({ ...DEFAULTS.timeout, ...(policy.timeout || {}) });
  const breaker: ResolvedBreaker | false =
    policy.breaker === false
      ? false
      : Object.freeze({
          ...DEFAULTS.breaker,
          ...policy.breaker,
          failureStatusCodes: new Set(policy.breaker?.failureStatusCodes ?? DEFAULTS.breaker.failureStatusCodes),
          fallback: policy.breaker?.fallback,
        });
  const throttle: ResolvedThrottle | false = policy.throttle
    ? Object.freeze({ ...DEFAULTS.throttleWhenOn, ...policy.throttle })
    : false;
  return Object.freeze({
    retry: policy.retry === false ? false : freezeRetry(policy.retry ?? {}),
    hedge: policy.hedge ? freezeHedge(policy.hedge) : false,
    breaker,
    timeout: policy.timeout === false ? Object.freeze({ attempt: false, total: false } as ResolvedTimeout) : timeout,
    throttle,
    maxBufferBytes: policy.maxBufferBytes ?? DEFAULTS.maxBufferBytes,
    upstreams: Object.freeze([...(policy.upstreams ?? DEFAULTS.upstreams)]),
    balance: policy.balance ?? DEFAULTS.balance,
    outlierDetection:
      policy.outlierDetection === false ? false : Object.freeze({ ...DEFAULTS.outlierDetection, ...policy.outlierDetection }),
    bulkhead: policy.bulkhead ? Object.freeze({ ...DEFAULTS.bulkheadWhenOn, ...policy.bulkhead }) : false,
    deadlineHeader: headerOf(policy.deadlineHeader ?? DEFAULTS.deadlineHeader),
    attemptHeader: headerOf(policy.attemptHeader ?? DEFAULTS.attemptHeader),
  });
};

const BASE: Policy = {
  retry: DEFAULTS.retry as RetryOptions,
  hedge: false,
  breaker: DEFAULTS.breaker,
  timeout: DEFAULTS.timeout,
  throttle: false,
  maxBufferBytes: DEFAULTS.maxBufferBytes,
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
  const byHost = new Map<string, { policy: Policy; resolved: ResolvedPolicy }>();
  const forHost = (url: URL) => {
    // By origin: http://a.com and https://a.com may match different `host:port` patterns.
    let entry = byHost.get(url.origin);
    if (!entry) {
      const policy = mergePolicy(base, match(url));
      entry = { policy, resolved: freezePolicy(policy) };
      if (byHost.size >= maxCached) byHost.delete(byHost.keys().next().value as string);
      byHost.set(url.origin, entry);
    }
    return entry;
  };
  return (url, override) => {
    const entry = forHost(url);
    if (override === undefined) return entry.resolved;
    return freezePolicy(mergePolicy(entry.policy, validatePolicy(override, 'init.policy')));
  };
};
