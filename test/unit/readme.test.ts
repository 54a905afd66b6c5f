import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../src/defaults.js';

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

const lookup = (path: string): unknown =>
  path.split('.').reduce<unknown>((value, key) => (value as Record<string, unknown>)[key], DEFAULTS);

describe('README', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.split('<!-- defaults-table')[1]?.split('\n\n')[0] ?? '';
  const rows = [...section.matchAll(/^\| `([^`]+)` \| `([^`]+)` \|/gm)];

  it('has a defaults table', () => {
    expect(rows.length).toBeGreaterThan(10);
  });

  it('states each default exactly as src/defaults.ts has it', () => {
    for (const [, field, written] of rows) {
      expect(written, field).toBe(render(lookup(field as string)));
    }
  });

  it('opens with the two set-up commands', () => {
    expect(readme).toContain('npm install && npm run demo');
    const at = readme.indexOf('npm test');
    expect(at, 'npm test is in the README').toBeGreaterThanOrEqual(0);
    expect(at).toBeLessThan(400);
  });
});
