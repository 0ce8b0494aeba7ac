import { randomBytes } from 'node:crypto';

/**
 * This vitest run's tag. Every Redis prefix (`testPrefix`) and PostgreSQL schema
 * (`createTestDatabase`) a test makes carries it, so the leak guards find what the run left.
 * The first global setup sets it; test workers inherit it through the environment.
 */
export function runTag(): string {
  return process.env.BATCHFLEET_TEST_RUN ?? 'adhoc';
}

/** Sets the run's tag once (global setup; vitest calls each setup once per project, in one process). */
export function ensureRunTag(): void {
  process.env.BATCHFLEET_TEST_RUN ??= randomBytes(4).toString('hex');
}
