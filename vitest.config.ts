import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['@clavis/source'] },
  ssr: { resolve: { conditions: ['@clavis/source'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts'],
    reporters: ['default', './scripts/summary_reporter.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
