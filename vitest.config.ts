import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Real sockets and a 2-core machine: generous bounds, never wall-clock assertions.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        extends: true,
        test: { name: 'integration', include: ['test/integration/**/*.test.ts'], exclude: ['test/integration/{cli,examples}.test.ts'] },
      },
      // Child-process tests (CLI, examples) start a node + tsx per case: they run after the other
      // projects, so their CPU load cannot push the tight timing tests above them past their bounds.
      {
        extends: true,
        test: { name: 'integration-process', include: ['test/integration/{cli,examples}.test.ts'], sequence: { groupOrder: 1 } },
      },
      { extends: true, test: { name: 'msw', include: ['test/msw/**/*.test.ts'] } },
    ],
  },
});
