import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Real sockets and a 2-core machine: generous bounds, never wall-clock assertions.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      { extends: true, test: { name: 'integration', include: ['test/integration/**/*.test.ts'] } },
      // The same integration suite on the reference transport (undici's fetch); the excluded files test both themselves.
      {
        extends: true,
        test: {
          name: 'integration-fetch',
          include: ['test/integration/**/*.test.ts'],
          exclude: ['test/integration/fetch-semantics.test.ts', 'test/integration/dispatcher-https.test.ts'],
          setupFiles: ['test/support/reference-transport.ts'],
          env: { RESILIENT_FETCH_TEST_TRANSPORT: 'fetch' },
        },
      },
      { extends: true, test: { name: 'msw', include: ['test/msw/**/*.test.ts'] } },
    ],
  },
});
