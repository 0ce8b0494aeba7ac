import { defineConfig } from 'vitest/config';

/*
 * Projects: `unit` (pure code, seconds: `npm run test:unit`), `integration` (real Redis, PostgreSQL and the
 * simulator over HTTP), `chaos` (worker processes killed, hostile payloads). `npm test` runs all of them.
 * The globs also find tests of workspace packages (packages/<name>/test), should code move there.
 */
const shared = {
  pool: 'forks' as const,
  testTimeout: 60_000,
  hookTimeout: 60_000,
  fileParallelism: true,
  setupFiles: ['test/support/leak-guard.ts'],
};

export default defineConfig({
  test: {
    maxWorkers: 2,
    projects: [
      { test: { ...shared, name: 'unit', include: ['test/unit/**/*.test.ts', 'packages/*/test/unit/**/*.test.ts'] } },
      {
        test: {
          ...shared,
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/simulator/**/*.test.ts', 'packages/*/test/**/*.test.ts'],
          exclude: ['packages/*/test/unit/**', '**/node_modules/**'],
        },
      },
      { test: { ...shared, name: 'chaos', include: ['test/chaos/**/*.test.ts'] } },
    ],
  },
});
