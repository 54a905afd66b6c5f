import { defineConfig } from 'vitest/config';

const PROCESS_TESTS = ['test/integration/{cli,examples}.test.ts'];
const TRANSPORT_AGNOSTIC = [
  'test/integration/fetch-semantics.test.ts',
  'test/integration/fetch-parity.test.ts',
  'test/integration/dispatcher-https.test.ts',
  'test/integration/process.test.ts',
  'test/integration/call-cost.test.ts',
  // Its clients all have a `fetch` option (a chaos wrapper): the built-in transport is never used.
  'test/integration/chaos-injection.test.ts',
  'test/integration/bench-servers.test.ts',
];

export default defineConfig({
  test: {
    // Real sockets and a 2-core machine: generous bounds, never wall-clock assertions.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // The bench adapters load the built library unless told otherwise; tests need no build.
    env: { BENCH_LIB: 'src' },
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'], setupFiles: ['test/support/fast-check.ts'] } },
      {
        extends: true,
        test: { name: 'integration', include: ['test/integration/**/*.test.ts'], exclude: PROCESS_TESTS },
      },
      // The same integration suite on the reference transport (undici's fetch); the excluded files
      // test both transports themselves, or do not depend on the transport.
      {
        extends: true,
        test: {
          name: 'integration-fetch',
          include: ['test/integration/**/*.test.ts'],
          exclude: [...PROCESS_TESTS, ...TRANSPORT_AGNOSTIC],
          setupFiles: ['test/support/reference-transport.ts'],
          env: { RESILIENT_FETCH_TEST_TRANSPORT: 'undici-fetch', BENCH_LIB: 'src' },
        },
      },
      // Child-process tests (CLI, examples) start a node + tsx per case: they run after the other
      // projects, so their CPU load cannot push the timing-sensitive tests above them past their bounds.
      {
        extends: true,
        test: { name: 'integration-process', include: PROCESS_TESTS, sequence: { groupOrder: 1 } },
      },
      { extends: true, test: { name: 'msw', include: ['test/msw/**/*.test.ts'] } },
    ],
  },
});
