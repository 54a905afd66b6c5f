import { describe, expect, it } from 'vitest';
import type { ResilientEvent } from '../../../src/diagnostics.js';
import { HostStates } from '../../../src/pipeline/host-state.js';
import { freezePolicy } from '../../../src/resolve-policy.js';

const policy = freezePolicy({ breaker: { volumeThreshold: 5 }, throttle: {} });
const breaker = policy.breaker as Exclude<typeof policy.breaker, false>;
const budget = (policy.retry as Exclude<typeof policy.retry, false>).budget as Exclude<
  Exclude<typeof policy.retry, false>['budget'],
  false
>;

describe('HostStates: one record per origin, one bounded LRU', () => {
  it('makes an origin record once, and evicts the least recently used past its bound, shutting its breaker down', () => {
    const states = new HostStates(2, () => {});
    const a = states.get('http://a');
    const circuitA = a.circuit(breaker);
    states.get('http://b').circuit(breaker);
    expect(states.get('http://a')).toBe(a); // a is now the most recent
    states.get('http://c');
    expect(states.size).toBe(2);
    expect(states.peek('http://b')).toBeUndefined();
    expect(states.peek('http://a')).toBe(a);
    expect(circuitA.breaker.isShutdown).toBe(false);
    states.clear();
    expect(circuitA.breaker.isShutdown).toBe(true);
    expect(states.size).toBe(0);
  });

  it('every piece of an origin lives and goes together: counters, budgets, pushback, throttle, breaker', () => {
    const states = new HostStates(1, () => {});
    const a = states.get('http://a');
    a.calls++;
    a.retryBudget(budget).deposit();
    a.throttle(policy.throttle as Exclude<typeof policy.throttle, false>).record(true);
    a.circuit(breaker);
    expect(Object.keys(a.snapshot()).sort()).toEqual([
      'attempts',
      'breaker',
      'calls',
      'failures',
      'retries',
      'retryBudget',
      'throttle',
    ]);
    states.get('http://b');
    expect(states.peek('http://a')).toBeUndefined();
    // A new record for a: nothing of the old one is left anywhere.
    expect(states.get('http://a').snapshot()).toEqual({ calls: 0, attempts: 0, retries: 0, failures: 0 });
  });

  it('stays at its bound under 100,000 distinct origins', () => {
    const states = new HostStates(100, () => {});
    for (let i = 0; i < 100_000; i++) states.get(`http://h${i}.test`);
    expect(states.size).toBe(100);
  });

  it('settings follow the call, counts follow the origin: a budget keeps its spending under a new ratio', () => {
    const a = new HostStates(10, () => {}).get('http://a');
    const first = a.retryBudget({ ratio: 0.1, minPerSecond: 0, window: 10_000 });
    for (let i = 0; i < 100; i++) first.deposit();
    expect(first.tryWithdraw()).toBe(true);
    const second = a.retryBudget({ ratio: 0.5, minPerSecond: 0, window: 60_000 });
    expect(second).toBe(first);
    expect(second.snapshot()).toMatchObject({ calls: 100, spent: 1, left: 49 });
    expect(second.options).toEqual({ ratio: 0.5, minPerSecond: 0, window: 10_000 }); // the window stays as made
  });

  it('issue-16: the hedge budget follows the same rule with the shared budget shape: settings follow the call, its window stays', () => {
    const a = new HostStates(10, () => {}).get('http://a');
    const first = a.hedgeBudget({ ratio: 0.1, minPerSecond: 0, window: 10_000 });
    for (let i = 0; i < 100; i++) first.deposit();
    expect(first.tryWithdraw()).toBe(true);
    const second = a.hedgeBudget({ ratio: 0.5, minPerSecond: 2, window: 60_000 });
    expect(second).toBe(first);
    expect(second.options).toEqual({ ratio: 0.5, minPerSecond: 2, window: 10_000 });
    expect(second.snapshot()).toMatchObject({ calls: 100, spent: 1, left: 49 + 20 });
  });

  it('a breaker takes a later call’s threshold and reset timeout, and reports its transitions as events', () => {
    const events: ResilientEvent[] = [];
    const a = new HostStates(10, (event) => void events.push(event)).get('http://a');
    const circuit = a.circuit(breaker);
    expect(a.circuit({ ...breaker, resetTimeout: 50, errorThresholdPercentage: 10 })).toBe(circuit);
    circuit.breaker.open();
    expect(a.isOpen()).toBe(true);
    expect(a.reopensIn()).toBeLessThanOrEqual(50);
    expect(events).toEqual([{ type: 'breaker', host: 'http://a', from: 'closed', to: 'open' }]);
    circuit.close();
  });
});
