import { expect, test } from 'vitest';
import { DEFAULTS } from '../../src/defaults.js';

// Guards the integration-fetch project: its setup file must really switch the default transport.
test('the suite runs on the transport its project names', () => {
  expect(DEFAULTS.transport).toBe(process.env.RESILIENT_FETCH_TEST_TRANSPORT ?? 'dispatcher');
});
