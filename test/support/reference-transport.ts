/**
 * Setup file of the `integration-fetch` project: the whole integration suite runs again with
 * undici's `fetch` (the reference transport) as the default, so both built-in transports pass the
 * same tests.
 */
import { vi } from 'vitest';

vi.mock('../../src/defaults.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../src/defaults.js')>();
  return { ...original, DEFAULTS: Object.freeze({ ...original.DEFAULTS, transport: 'undici-fetch' as const }) };
});
