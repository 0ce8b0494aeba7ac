import { z } from 'zod';
import { ConfigError } from './errors.ts';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (def: number) => z.coerce.number().int().nonnegative().default(def);
const json = <T extends z.ZodTypeAny>(schema: T) =>
  z
    .string()
    .transform((s, ctx) => {
      try {
        return JSON.parse(s) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'is not valid JSON' });
        return z.NEVER;
      }
    })
    .pipe(schema);

/**
 * Every setting batchfleet reads from the environment, with its default.
 * The README's configuration table is generated from the same names; keep them in step.
 */
const envSchema = z.object({
  /** PostgreSQL, the source of truth. The database is created if it is missing. */
  DATABASE_URL: z.string().url().default('postgresql://postgres@127.0.0.1:5432/batchfleet'),
  /** Redis for BullMQ queues and the token budget. */
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  /** Prefix of every BullMQ and budget key, so several fleets can share one Redis. */
  BATCHFLEET_PREFIX: z.string().regex(/^[A-Za-z0-9_{}.-]+$/, 'letters, digits, _ . - { } only').default('batchfleet'),
  /** Real OpenAI key. When unset, the built-in simulator is the provider. */
  OPENAI_API_KEY: z.string().min(1).optional(),
  /** Provider base URL. Defaults to OpenAI with a key, to SIMULATOR_URL without one. */
  OPENAI_BASE_URL: z.string().url().optional(),
  /** Where the simulator listens when no key is set. */
  SIMULATOR_URL: z.string().url().default('http://127.0.0.1:8787/v1'),
  /** Module whose default export is the task registry (or an array of tasks). Default: the example tasks. */
  BATCHFLEET_TASKS: z.string().min(1).optional(),
  /** Local directory for built JSONL files and downloaded results. */
  DATA_DIR: z.string().default('var/data'),
  /** OpenAI usage tier whose batch queue limits are the default per-model budget (1-5). */
  OPENAI_TIER: z.coerce.number().int().min(1).max(5).default(1),
  /** Per-model enqueued-token limits overriding the tier table, e.g. {"gpt-4o-mini": 2000000}. */
  TOKEN_LIMITS: json(z.record(z.string(), z.number().int().positive())).default({}),
  /** Fraction of each model's limit kept free as a safety margin. */
  BUDGET_SAFETY_MARGIN: z.coerce.number().min(0).max(0.9).default(0.1),
  /** Most batches in flight (submitted, not yet terminal) per task, and per model. */
  MAX_IN_FLIGHT_PER_TASK: int(20),
  MAX_IN_FLIGHT_PER_MODEL: int(50),
  /** Continuous build policy: build once this many items are queued for a task... */
  BUILD_MIN_ITEMS: int(1),
  /** ...or once the oldest queued item has waited this long (ms). */
  BUILD_MAX_WAIT_MS: int(0),
  /**
   * Requests per batch the builder aims at (a task's own maxRequestsPerBatch still caps it). Batches
   * sized for flow: the next one is built while the previous one uploads, runs and is processed.
   */
  BUILD_TARGET_REQUESTS: z.coerce.number().int().positive().default(10_000),
  /** Adaptive poll interval bounds (ms): fast right after submit, slower while nothing changes. */
  POLL_MIN_MS: int(1_000),
  POLL_MAX_MS: int(60_000),
  /** Global cap on provider status calls per second across the whole fleet. */
  POLL_RATE_PER_SECOND: int(20),
  /** A batch that stays in one provider status longer than this (ms) is reported as stuck. */
  STUCK_AFTER_MS: int(2 * 60 * 60 * 1000),
  /** A batch still open this long (ms) past its provider expiry is cancelled and its items requeued. */
  EXPIRY_GRACE_MS: int(60 * 60 * 1000),
  /** Period of the reconciler inside worker processes (ms); 0 disables the periodic run. */
  RECONCILE_EVERY_MS: int(60_000),
  /** How long a worker may take to finish or hand back its jobs on SIGTERM (ms). Keep below Kubernetes' grace period. */
  SHUTDOWN_TIMEOUT_MS: int(20_000),
  /** Processing lease on a batch (process and sync), renewed by a timer every third of it (ms). A dead worker's batch is taken over after this. */
  LEASE_MS: z.coerce.number().int().min(1_000).default(15_000),
  /** BullMQ job lock (ms), renewed by BullMQ at half of it; a killed worker's job is re-run once it lapses and the stall check runs. */
  JOB_LOCK_MS: z.coerce.number().int().min(1_000).default(15_000),
  /** How often BullMQ looks for stalled jobs (ms). */
  STALLED_INTERVAL_MS: z.coerce.number().int().min(1_000).default(5_000),
  /** A batch left in `building` this long (ms) is finished by the reconciler (its builder died between claim and file). */
  BUILDING_STALE_MS: z.coerce.number().int().min(1_000).default(60_000),
  /**
   * After a crash between recording an upload/create intent and recording its result, how long (ms)
   * a retry keeps looking for the earlier file or batch before making another. The provider's lists
   * can lag a new object by tens of seconds; creating again inside that window would duplicate it.
   */
  PROVIDER_VISIBILITY_MS: z.coerce.number().int().min(0).default(60_000),
  /** Worker concurrency per role. */
  CONCURRENCY_INTAKE: int(4),
  CONCURRENCY_BUILD: int(2),
  CONCURRENCY_SUBMIT: int(4),
  CONCURRENCY_POLL: int(20),
  CONCURRENCY_PROCESS: int(2),
  CONCURRENCY_SYNC: int(2),
  /** Tasks forced into sync mode (comma-separated names), whatever their `mode`: the one-setting switch of F13. */
  SYNC_TASKS: z.string().default('').transform((s) => s.split(',').map((t) => t.trim()).filter(Boolean)),
  /** Sync mode: requests per minute per model, fleet-wide (enforced in Redis). */
  SYNC_RPM: z.coerce.number().int().positive().default(500),
  /** Sync mode: requests in flight at once per process. */
  SYNC_CONCURRENCY: z.coerce.number().int().positive().default(8),
  /** Provider files (input, output, error) after a batch is processed: `delete` them, or `keep` them (they expire on their own). */
  PROVIDER_FILE_RETENTION: z.enum(['delete', 'keep']).default('delete'),
  /** Optional per-day spend cap (USD); submissions are held once today's spend reaches it. */
  DAILY_SPEND_CAP_USD: z.coerce.number().positive().optional(),
  /** Price overrides merged over the shipped table (JSON, see docs/operations.md). */
  PRICE_OVERRIDES: json(z.unknown()).optional(),
  /** Secret for verifying OpenAI webhooks (whsec_...). Enables the webhook receiver. */
  OPENAI_WEBHOOK_SECRET: z.string().min(1).optional(),
  /** Admin server (Bull Board, /metrics, health). Credentials are required for the board. */
  ADMIN_PORT: int(3000),
  /** Address the admin server binds. Loopback by default; containers (compose, Kubernetes) set 0.0.0.0. */
  ADMIN_HOST: z.string().min(1).default('127.0.0.1'),
  /** When set, `/metrics` (admin and worker processes) requires `Authorization: Bearer <token>`. */
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Port of each worker process's own `/metrics` and `/healthz` server; 0 turns it off. */
  METRICS_PORT: int(9464),
  /** Address the worker metrics server binds. Loopback by default; containers set 0.0.0.0. */
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  ADMIN_USER: z.string().min(1).default('admin'),
  ADMIN_PASSWORD: z.string().min(1).optional(),
  ADMIN_READ_ONLY: bool.default(false),
  /** Alerts: failure-rate threshold (0-1), spend threshold (USD per day), optional webhook. */
  ALERT_FAILURE_RATE: z.coerce.number().min(0).max(1).default(0.2),
  ALERT_SPEND_USD: z.coerce.number().positive().optional(),
  ALERT_WEBHOOK_URL: z.string().url().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Opt-in: show prompt and response bodies in logs. Keys are always redacted. */
  LOG_BODIES: bool.default(false),
  LOG_PRETTY: z.enum(['auto', 'true', 'false']).default('auto'),
});

export type Env = z.infer<typeof envSchema>;

/**
 * Settings that are each valid alone but contradict one another. Each message names the variables, their
 * values and what to change.
 */
export function crossFieldProblems(e: Env): string[] {
  const problems: string[] = [];
  if (e.POLL_MIN_MS === 0) problems.push('POLL_MIN_MS: must be at least 1 (ms)');
  if (e.POLL_MIN_MS > e.POLL_MAX_MS) problems.push(`POLL_MIN_MS (${e.POLL_MIN_MS}) must not exceed POLL_MAX_MS (${e.POLL_MAX_MS})`);
  if (e.STUCK_AFTER_MS > 0 && e.STUCK_AFTER_MS <= e.POLL_MAX_MS) {
    problems.push(`STUCK_AFTER_MS (${e.STUCK_AFTER_MS}) must exceed POLL_MAX_MS (${e.POLL_MAX_MS}): a batch would be reported stuck between two polls`);
  }
  if (e.POLL_RATE_PER_SECOND === 0) problems.push('POLL_RATE_PER_SECOND: must be at least 1');
  if (e.BUILD_MIN_ITEMS === 0) problems.push('BUILD_MIN_ITEMS: must be at least 1');
  if (e.SHUTDOWN_TIMEOUT_MS === 0) problems.push('SHUTDOWN_TIMEOUT_MS: must be at least 1 (ms)');
  for (const role of ['INTAKE', 'BUILD', 'SUBMIT', 'POLL', 'PROCESS'] as const) {
    if (e[`CONCURRENCY_${role}`] === 0) problems.push(`CONCURRENCY_${role}: must be at least 1 (a worker with concurrency 0 takes no jobs)`);
  }
  if (e.MAX_IN_FLIGHT_PER_TASK === 0 || e.MAX_IN_FLIGHT_PER_MODEL === 0) problems.push('MAX_IN_FLIGHT_PER_TASK and MAX_IN_FLIGHT_PER_MODEL: must be at least 1, or nothing is ever submitted');
  if (e.ALERT_SPEND_USD !== undefined && e.DAILY_SPEND_CAP_USD !== undefined && e.ALERT_SPEND_USD > e.DAILY_SPEND_CAP_USD) {
    problems.push(`ALERT_SPEND_USD (${e.ALERT_SPEND_USD}) must not exceed DAILY_SPEND_CAP_USD (${e.DAILY_SPEND_CAP_USD}): the alert could never fire before the cap holds submissions`);
  }
  if (e.METRICS_PORT !== 0 && e.METRICS_PORT === e.ADMIN_PORT) problems.push(`METRICS_PORT and ADMIN_PORT must differ (both ${e.ADMIN_PORT})`);
  if (e.ADMIN_READ_ONLY && !e.ADMIN_PASSWORD) problems.push('ADMIN_READ_ONLY is set but ADMIN_PASSWORD is not: the board is disabled without a password');
  return problems;
}

/** The validated configuration every part of batchfleet receives by injection. */
export interface Config {
  databaseUrl: string;
  redisUrl: string;
  prefix: string;
  provider: { apiKey: string; baseURL: string | undefined; simulated: boolean };
  dataDir: string;
  tasksModule: string | undefined;
  budget: { tier: number; tokenLimits: Record<string, number>; safetyMargin: number };
  limits: { maxInFlightPerTask: number; maxInFlightPerModel: number };
  build: { minItems: number; maxWaitMs: number; targetRequests: number };
  poll: { minMs: number; maxMs: number; ratePerSecond: number };
  stuckAfterMs: number;
  expiryGraceMs: number;
  reconcileEveryMs: number;
  shutdownTimeoutMs: number;
  concurrency: { intake: number; build: number; submit: number; poll: number; process: number; sync: number };
  /** Durations (ms) that decide how fast a dead worker's work is taken over. */
  timings: { leaseMs: number; jobLockMs: number; stalledIntervalMs: number; buildingStaleMs: number; providerVisibilityMs: number };
  /** Sync mode (F13): tasks forced to sync, fleet-wide requests per minute per model, per-process concurrency. */
  sync: { tasks: string[]; rpm: number; concurrency: number };
  dailySpendCapUsd: number | undefined;
  providerFileRetention: 'delete' | 'keep';
  priceOverrides: unknown;
  webhookSecret: string | undefined;
  admin: { port: number; host: string; user: string; password: string | undefined; readOnly: boolean; metricsToken: string | undefined };
  /** Each worker process's own metrics and health server. */
  metrics: { port: number; host: string; token: string | undefined };
  alerts: { failureRate: number; spendUsd: number | undefined; webhookUrl: string | undefined };
  log: { level: Env['LOG_LEVEL']; bodies: boolean; pretty: boolean | 'auto' };
}

/** Reads and validates the configuration; throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const e = parsed.data;
  const contradictions = crossFieldProblems(e);
  if (contradictions.length > 0) throw new ConfigError(`invalid configuration:\n  ${contradictions.join('\n  ')}`);
  const simulated = !e.OPENAI_API_KEY;
  return {
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    prefix: e.BATCHFLEET_PREFIX,
    provider: {
      apiKey: e.OPENAI_API_KEY ?? 'sk-simulator',
      baseURL: e.OPENAI_BASE_URL ?? (simulated ? e.SIMULATOR_URL : undefined),
      simulated,
    },
    dataDir: e.DATA_DIR,
    tasksModule: e.BATCHFLEET_TASKS,
    budget: { tier: e.OPENAI_TIER, tokenLimits: e.TOKEN_LIMITS, safetyMargin: e.BUDGET_SAFETY_MARGIN },
    limits: { maxInFlightPerTask: e.MAX_IN_FLIGHT_PER_TASK, maxInFlightPerModel: e.MAX_IN_FLIGHT_PER_MODEL },
    build: { minItems: e.BUILD_MIN_ITEMS, maxWaitMs: e.BUILD_MAX_WAIT_MS, targetRequests: e.BUILD_TARGET_REQUESTS },
    poll: { minMs: e.POLL_MIN_MS, maxMs: e.POLL_MAX_MS, ratePerSecond: e.POLL_RATE_PER_SECOND },
    stuckAfterMs: e.STUCK_AFTER_MS,
    expiryGraceMs: e.EXPIRY_GRACE_MS,
    reconcileEveryMs: e.RECONCILE_EVERY_MS,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    concurrency: {
      intake: e.CONCURRENCY_INTAKE,
      build: e.CONCURRENCY_BUILD,
      submit: e.CONCURRENCY_SUBMIT,
      poll: e.CONCURRENCY_POLL,
      process: e.CONCURRENCY_PROCESS,
      sync: e.CONCURRENCY_SYNC,
    },
    timings: { leaseMs: e.LEASE_MS, jobLockMs: e.JOB_LOCK_MS, stalledIntervalMs: e.STALLED_INTERVAL_MS, buildingStaleMs: e.BUILDING_STALE_MS, providerVisibilityMs: e.PROVIDER_VISIBILITY_MS },
    sync: { tasks: e.SYNC_TASKS, rpm: e.SYNC_RPM, concurrency: e.SYNC_CONCURRENCY },
    dailySpendCapUsd: e.DAILY_SPEND_CAP_USD,
    providerFileRetention: e.PROVIDER_FILE_RETENTION,
    priceOverrides: e.PRICE_OVERRIDES,
    webhookSecret: e.OPENAI_WEBHOOK_SECRET,
    admin: { port: e.ADMIN_PORT, host: e.ADMIN_HOST, user: e.ADMIN_USER, password: e.ADMIN_PASSWORD, readOnly: e.ADMIN_READ_ONLY, metricsToken: e.METRICS_TOKEN },
    metrics: { port: e.METRICS_PORT, host: e.METRICS_HOST, token: e.METRICS_TOKEN },
    alerts: { failureRate: e.ALERT_FAILURE_RATE, spendUsd: e.ALERT_SPEND_USD, webhookUrl: e.ALERT_WEBHOOK_URL },
    log: { level: e.LOG_LEVEL, bodies: e.LOG_BODIES, pretty: e.LOG_PRETTY === 'auto' ? 'auto' : e.LOG_PRETTY === 'true' },
  };
}
