import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/*
 * Projects: `unit` (pure code, seconds: `npm run test:unit`), `integration` (real Redis, PostgreSQL and the
 * simulator over HTTP, and the built package), `chaos` (worker processes killed, hostile payloads).
 * `npm test` runs all of them, then the simulator package's own suite (npm test -w packages/openai-batch-simulator).
 */
const shared = {
  pool: 'forks' as const,
  testTimeout: 60_000,
  hookTimeout: 60_000,
  fileParallelism: true,
  setupFiles: ['test/support/leak-guard.ts'],
};

export default defineConfig({
  // The simulator workspace package is imported from its TypeScript sources (no build step in dev;
  // tsx gets the same mapping from tsconfig.json "paths").
  resolve: {
    alias: { 'openai-batch-simulator': fileURLToPath(new URL('./packages/openai-batch-simulator/src/index.ts', import.meta.url)) },
  },
  test: {
    maxWorkers: 2,
    projects: [
      { extends: true, test: { ...shared, name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      { extends: true, test: { ...shared, name: 'integration', include: ['test/integration/**/*.test.ts', 'test/package/**/*.test.ts'] } },
      { extends: true, test: { ...shared, name: 'chaos', include: ['test/chaos/**/*.test.ts'] } },
    ],
  },
});
