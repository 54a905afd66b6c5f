import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULTS, LAYER_DEFAULTS } from '../../src/defaults.js';
import * as api from '../../src/index.js';

/** Renders a default the way the README's table writes it. */
const render = (value: unknown): string => {
  if (Array.isArray(value)) return value.join(', ');
  if (value && typeof value === 'object') {
    return Object.entries(value)
      .map(([k, v]) => `${k} ${String(v)}`)
      .join(', ');
  }
  return String(value);
};

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const lookup = (root: object, path: string): unknown =>
  path.split('.').reduce<unknown>((value, key) => (isObject(value) && Object.hasOwn(value, key) ? value[key] : undefined), root);

/** Every leaf path of an object: `retry.limit`, `retry.backoff.base`, ..., `hedge`. */
const leaves = (value: unknown, prefix = ''): string[] =>
  isObject(value) ? Object.entries(value).flatMap(([key, inner]) => leaves(inner, prefix ? `${prefix}.${key}` : key)) : [prefix];

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
/** The `| \`field\` | \`value\` |` rows of the table after `<!-- marker`. */
const tableRows = (marker: string) => {
  const section = readme.split(`<!-- ${marker}`)[1]?.split('\n\n')[0] ?? '';
  return [...section.matchAll(/^\| `([^`]+)` \| `([^`]+)` \|/gm)].map(([, field, written]) => ({
    field: field as string,
    written: written as string,
  }));
};

/** Each leaf of `root` is a row, or lies under a row that states it whole (`retry.backoff`). */
const uncovered = (root: object, rows: ReadonlyArray<{ field: string }>) =>
  leaves(root).filter((leaf) => !rows.some(({ field }) => leaf === field || leaf.startsWith(`${field}.`)));

describe('README', () => {
  const rows = tableRows('defaults-table');

  it('has a defaults table', () => {
    expect(rows.length).toBeGreaterThan(10);
  });

  it('states each default exactly as src/defaults.ts has it', () => {
    for (const { field, written } of rows) {
      expect(lookup(DEFAULTS, field), `${field} is a path of DEFAULTS`).not.toBeUndefined();
      expect(written, field).toBe(render(lookup(DEFAULTS, field)));
    }
  });

  it('issue-16: the defaults table covers every path of DEFAULTS', () => {
    expect(uncovered(DEFAULTS, rows)).toEqual([]);
    for (const path of ['breaker.rollingCountBuckets', 'outlierDetection.consecutiveFailures', 'balance', 'maxHosts']) {
      expect(rows.map((row) => row.field)).toContain(path);
    }
  });

  it('issue-16: DEFAULTS holds only option paths a user can write (no internals)', () => {
    // Policy fields, and the client options transport and maxHosts; nothing install() or a layer uses inside.
    const policyKeys = [
      'retry',
      'hedge',
      'breaker',
      'timeout',
      'throttle',
      'maxBufferBytes',
      'balance',
      'outlierDetection',
      'bulkhead',
      'deadlineHeader',
      'attemptHeader',
    ];
    expect(Object.keys(DEFAULTS).sort()).toEqual([...policyKeys, 'transport', 'maxHosts'].sort());
    expect(api.DEFAULTS).toBe(DEFAULTS);
    expect(Object.keys(api)).not.toContain('LAYER_DEFAULTS');
    expect(Object.keys(api)).not.toContain('INSTALL_DEFAULTS');
    // Each path of DEFAULTS is accepted where it belongs (policy paths in `defaults`, the rest at the top).
    const { transport, maxHosts, ...policy } = DEFAULTS;
    expect(() => api.createFetch({ transport, maxHosts, defaults: policy }).close()).not.toThrow();
  });

  it('issue-16: the table of what `true` switches on states LAYER_DEFAULTS for the layers off by default', () => {
    const on = tableRows('layer-defaults-table');
    const offByDefault = { hedge: LAYER_DEFAULTS.hedge, throttle: LAYER_DEFAULTS.throttle, bulkhead: LAYER_DEFAULTS.bulkhead };
    for (const { field, written } of on) {
      expect(lookup(offByDefault, field), `${field} is a path of LAYER_DEFAULTS`).not.toBeUndefined();
      expect(written, field).toBe(render(lookup(offByDefault, field)));
    }
    expect(uncovered(offByDefault, on)).toEqual([]);
  });

  it('opens with the two set-up commands', () => {
    expect(readme).toContain('npm install && npm run demo');
    const at = readme.indexOf('npm test');
    expect(at, 'npm test is in the README').toBeGreaterThanOrEqual(0);
    expect(at).toBeLessThan(400);
  });
});
