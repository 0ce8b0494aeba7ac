import { loadConfig, type Config } from '../config.ts';
import { createLogger } from '../logging/index.ts';
import type { PipelineContext } from '../pipeline/context.ts';
import { createRedis } from '../queues/connection.ts';
import { checkConnections } from '../runtime/connection-errors.ts';
import { createContext } from '../runtime/context.ts';
import { loadRegistry } from '../runtime/load-registry.ts';
import type { TaskRegistry } from '../tasks/registry.ts';

export interface Writer {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

/** Where a CLI run reads its settings and writes its output; everything is injectable for tests. */
export interface CliIO {
  stdout: Writer;
  /** Errors, warnings, logs and progress bars (never mixed into stdout, so `--json` stays parseable). */
  stderr: Writer;
  /** Environment read by `loadConfig`. @defaultValue process.env */
  env: NodeJS.ProcessEnv;
  /** A ready configuration instead of `env`. */
  config?: Config;
  /** A ready context instead of opening one (it is not closed). */
  ctx?: PipelineContext;
  /** The fleet's tasks. @defaultValue the BATCHFLEET_TASKS module's, else the example tasks */
  registry?: TaskRegistry;
}

/** A refusal or usage problem: printed without a stack trace, with its exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = this.constructor.name;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

export function configOf(io: CliIO): Config {
  return io.config ?? loadConfig(io.env);
}

/** How long the CLI waits for PostgreSQL or Redis to answer before it says which one is missing. */
const CONNECT_TIMEOUT_MS = 5_000;

/**
 * Runs `fn` with a pipeline context built from the configuration (or the injected one), and
 * closes what it opened. Logs go to stderr, errors only unless LOG_LEVEL is set. PostgreSQL
 * (reachable, migrated) and Redis are checked first: a problem is a ConnectionError, one line.
 */
export async function withContext<T>(io: CliIO, fn: (ctx: PipelineContext) => Promise<T>): Promise<T> {
  if (io.ctx) return fn(io.ctx);
  const config = configOf(io);
  const level = io.config || io.env.LOG_LEVEL ? config.log.level : 'error';
  const log = createLogger({ level, pretty: false, destination: { write: (s: string) => void io.stderr.write(s) }, name: 'batchfleet-cli' });
  const registry = io.registry ?? (await loadRegistry(config.tasksModule));
  // Unlike a worker's connection, the CLI's gives up quickly when Redis is unreachable instead of waiting for ever.
  const redis = createRedis(config.redisUrl, { maxRetriesPerRequest: 2, connectTimeout: CONNECT_TIMEOUT_MS, retryStrategy: (n) => (n > 3 ? null : 250 * n) });
  redis.on('error', () => undefined); // reported once, by the check below or by the command that fails
  const ctx = createContext(config, registry, { log, redis });
  try {
    await checkConnections({ databaseUrl: config.databaseUrl, redisUrl: config.redisUrl, redis }, { timeoutMs: CONNECT_TIMEOUT_MS });
  } catch (err) {
    redis.disconnect();
    await ctx.db.$disconnect().catch(() => undefined);
    throw err;
  }
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
    await redis.quit().catch(() => redis.disconnect());
  }
}

function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Map) return Object.fromEntries(value);
  return value;
}

/** Prints one JSON document. */
export function printJson(io: CliIO, doc: unknown): void {
  io.stdout.write(`${JSON.stringify(doc, jsonReplacer, 2)}\n`);
}

/** Prints text lines. */
export function print(io: CliIO, text: string): void {
  io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}
