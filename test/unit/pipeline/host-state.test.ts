import { describe, expect, it } from 'vitest';
import { HostRegistry } from '../../../src/pipeline/host-state.js';

describe('HostRegistry', () => {
  it('evicts the least recently used entry past its bound and closes it', () => {
    const closed: string[] = [];
    const registry = new HostRegistry(2, (host) => ({ host, close: () => closed.push(host) }));
    registry.get('a');
    registry.get('b');
    registry.get('a'); // a is now the most recent
    registry.get('c');
    expect(registry.size).toBe(2);
    expect(closed).toEqual(['b']);
    expect(registry.peek('a')).toBeDefined();
    registry.clear();
    expect(closed.sort()).toEqual(['a', 'b', 'c']);
  });

  it('stays at its bound under 100,000 distinct hosts', () => {
    const registry = new HostRegistry(100, () => ({ n: 0 }));
    for (let i = 0; i < 100_000; i++) registry.get(`h${i}.test`);
    expect(registry.size).toBe(100);
  });
});
