import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // The simulator workspace package is imported from its TypeScript sources (no build step in dev;
  // tsx gets the same mapping from tsconfig.json "paths").
  resolve: {
    alias: { 'openai-batch-simulator': fileURLToPath(new URL('./packages/openai-batch-simulator/src/index.ts', import.meta.url)) },
  },
  test: {
    include: ['test/**/*.test.ts'],
    // The simulator package has its own suite: npm test -w packages/openai-batch-simulator.
    exclude: ['**/node_modules/**', 'packages/**'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    fileParallelism: true,
    maxWorkers: 2,
    setupFiles: ['test/support/leak-guard.ts'],
  },
});
