import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { TokenBudget } from '../budget/index.ts';
import type { Config } from '../config.ts';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { createDb, type Db } from '../store/db.ts';
import { createLogger } from '../logging/index.ts';
import { instrumentProvider } from '../monitoring/provider-metrics.ts';
import { ModelLimits } from '../pipeline/model-limits.ts';
import type { PipelineContext } from '../pipeline/context.ts';
import { loadPriceTable, resolveModel } from '../pricing/index.ts';
import { OpenAIBatchProvider } from '../provider/openai-provider.ts';
import type { BatchProvider } from '../provider/provider.ts';
import { createRedis } from '../queues/connection.ts';
import { PipelineQueues } from '../queues/queues.ts';
import { LocalFileStore } from '../storage/file-store.ts';
import type { TaskRegistry } from '../tasks/registry.ts';
import { createTokenCounter } from '../tokens/index.ts';

/** A running context plus the means to close what it opened. */
export interface OwnedContext extends PipelineContext {
  close(): Promise<void>;
}

/**
 * Wires a pipeline context from configuration. Anything passed in `overrides` is used as is
 * (and not closed): tests and the demo inject a logger, a provider or a database this way.
 */
export function createContext(
  config: Config,
  registry: TaskRegistry,
  overrides: { log?: Logger; provider?: BatchProvider; db?: Db; redis?: Redis; now?: () => Date } = {},
): OwnedContext {
  const log = overrides.log ?? createLogger({ level: config.log.level, pretty: config.log.pretty, showBodies: config.log.bodies, name: 'batchfleet' });
  const db = overrides.db ?? createDb(config.databaseUrl);
  const redis = overrides.redis ?? createRedis(config.redisUrl);
  redis.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
  const prices = loadPriceTable(config.priceOverrides);
  for (const task of registry.all()) resolveModel(task.model, prices); // an unpriced model fails here, at boot, never silently at zero
  const queues = new PipelineQueues(redis, config.prefix);
  const now = overrides.now ?? (() => new Date());
  const ctx: OwnedContext = {
    config,
    db,
    redis,
    queues,
    registry,
    provider: instrumentProvider(overrides.provider ?? new OpenAIBatchProvider({ apiKey: config.provider.apiKey, baseURL: config.provider.baseURL })),
    tokens: createTokenCounter(),
    budget: new TokenBudget({ redis, prefix: config.prefix }),
    limits: new ModelLimits(db, config, log, now),
    prices,
    files: new LocalFileStore(config.dataDir),
    log,
    now,
    owner: `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
    async close() {
      await queues.close();
      if (!overrides.redis) await redis.quit().catch(() => redis.disconnect());
      if (!overrides.db) await db.$disconnect();
    },
  };
  return ctx;
}
