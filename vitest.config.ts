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
/**
 * Tests with real processes, Redis, PostgreSQL and the simulator wait on conditions (waitFor, 60 s by
 * default); their own timeout must be longer, so a slow machine fails no test and a missing
 * condition is reported by its waitFor, not by a bare timeout. Timeouts detect hangs, not slowness.
 */
const slow = { ...shared, testTimeout: 180_000, hookTimeout: 180_000 };

export default defineConfig({
  // The simulator workspace package is imported from its TypeScript sources (no build step in dev;
  // tsx gets the same mapping from tsconfig.json "paths").
  resolve: {
    alias: { 'openai-batch-simulator': fileURLToPath(new URL('./packages/openai-batch-simulator/src/index.ts', import.meta.url)) },
  },
  test: {
    globalSetup: ['test/support/redis-leaks.ts', 'test/support/database-leaks.ts'],
    maxWorkers: 2,
    projects: [
      { extends: true, test: { ...shared, name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      { extends: true, test: { ...slow, name: 'integration', include: ['test/integration/**/*.test.ts', 'test/package/**/*.test.ts'] } },
      { extends: true, test: { ...slow, name: 'chaos', include: ['test/chaos/**/*.test.ts'] } },
    ],
  },
});
