/**
 * Read models: the one place where the CLI, the admin server and its metrics, the producer client
 * and the demo read the facts they show. Set-based statements; Prisma's typed client for lookups.
 */
export * from './operations.ts';
export * from './records.ts';
export * from './items.ts';
export * from './runs.ts';
export { spendSince, startOfUtcDay } from '../results.ts';
