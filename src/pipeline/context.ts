import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { TokenBudget } from '../budget/index.ts';
import type { Config } from '../config.ts';
import type { PriceTable } from '../pricing/index.ts';
import type { BatchProvider } from '../provider/provider.ts';
import type { PipelineQueues } from '../queues/queues.ts';
import type { LocalFileStore } from '../storage/file-store.ts';
import type { Db } from '../store/db.ts';
import type { TaskRegistry } from '../tasks/registry.ts';
import type { TokenCounter } from '../tokens/index.ts';
import type { ModelLimits } from './model-limits.ts';

/** Everything a pipeline stage needs, injected, so one process or many run the same code. */
export interface PipelineContext {
  config: Config;
  db: Db;
  redis: Redis;
  queues: PipelineQueues;
  registry: TaskRegistry;
  provider: BatchProvider;
  tokens: TokenCounter;
  budget: TokenBudget;
  limits: ModelLimits;
  prices: PriceTable;
  /** Where batch files live (local directory by default). */
  files: LocalFileStore;
  log: Logger;
  /** The clock. Every time-dependent decision and every time written to PostgreSQL comes from here. */
  now: () => Date;
  /** Who this process is, for leases: unique per context. */
  owner: string;
}
