import type { Logger } from 'pino';
import type { z } from 'zod';
import type { DbTx } from '../store/db.ts';
import { BatchfleetError, TaskDefinitionError } from '../errors.ts';

/** Endpoints a task can target; one per batch file. */
export type Endpoint = '/v1/chat/completions' | '/v1/embeddings' | '/v1/responses';

/** How an attempt's output was judged. `code` is what operators filter on. */
export type FailureCode =
  | 'not_json'
  | 'schema_mismatch'
  | 'truncated'
  | 'refusal'
  | 'content_filter'
  | 'empty_output'
  | (string & {});

/** Thrown by a task's `parseOutput` when the provider answered but the answer is not usable. */
export class OutputValidationError extends BatchfleetError {
  constructor(
    readonly code: FailureCode,
    message: string,
  ) {
    super(message);
  }
}

/** What `parseOutput` receives: the provider's response body, plus the first choice's text for chat. */
export interface ProviderOutput {
  body: Record<string, unknown>;
  /** `choices[0].message.content` for chat completions, `null` otherwise. */
  content: string | null;
}

/** Retry and packing limits of one task. Every field has a default (see `resolveLimits`). */
export interface TaskLimits {
  /** Attempts that ran at the provider, successes included. Default 3. */
  maxAttempts: number;
  /** Spacing before the first retry (ms); doubles each further attempt. Default 1,000. */
  retryDelayMs: number;
  /** Times an item may come back unexecuted (batch failed/expired/cancelled) before it fails. Default 10. */
  maxRequeues: number;
  /** Requests per batch file (provider maximum 50,000). */
  maxRequestsPerBatch: number;
  /** Bytes per batch file (provider maximum 200 MB). */
  maxBytesPerBatch: number;
  /** Estimated input tokens per batch; never above the model's budget. Default: the model's budget. */
  maxTokensPerBatch: number | undefined;
  /** Batches of this task in flight at once. Default: the fleet's MAX_IN_FLIGHT_PER_TASK. */
  maxInFlightBatches: number | undefined;
  /** Output budget of the first attempt, when the request builder does not set one. */
  maxOutputTokens: number | undefined;
  /** Factor applied to the output budget after a truncated answer. Default 2. */
  truncationGrowth: number;
  /** Ceiling for the grown output budget. Default 16,384. */
  maxOutputTokensCeiling: number;
}

/** BullMQ retention of finished results jobs: whichever bound is hit first applies. */
export interface RetentionBound {
  /** Seconds a finished job is kept. */
  age: number;
  /** Finished jobs kept at most (jobs, not results: each holds up to `maxJobResults` results). */
  count: number;
}

/**
 * Where a task's final results go, what they carry, and how much of Redis they may take.
 * Results travel in jobs of many: each committed chunk of results becomes one job on
 * `results.<task>` (or a few, split at `maxJobResults` / `maxJobBytes`).
 */
export interface ResultDelivery {
  /**
   * `queue`: jobs of final results on `results.<task>` (for the producer client); `hook`: the
   * task's `onResult`/`onFailure` run in the fleet. `[]` delivers nothing (results stay in PostgreSQL).
   */
  channels: ReadonlyArray<'queue' | 'hook'>;
  /** `full`: output, usage, cost, error and attempt history in the message; `ids`: ids and status only. */
  payload: 'full' | 'ids';
  /** A full message whose JSON is larger than this many bytes is sent as ids only (`outputOmitted: 'too_large'`). */
  maxPayloadBytes: number;
  /** Results in one job at most. */
  maxJobResults: number;
  /** JSON bytes of one job's data at most (a single message larger than this goes in a job of its own). */
  maxJobBytes: number;
  retention: {
    /** Consumed (completed) results jobs: BullMQ `removeOnComplete`, counted in jobs. */
    completed: RetentionBound;
    /** Results jobs whose consumer gave up (failed): BullMQ `removeOnFail`, counted in jobs. */
    failed: RetentionBound;
    /**
     * Unconsumed RESULTS (not jobs) kept at most: after each publish, the oldest waiting jobs are
     * dropped whole until the results still waiting are at most this many (the dropped ones stay
     * in PostgreSQL and are counted, see `client.status().dropped`).
     */
    maxWaiting: number;
  };
  /**
   * Runs of one results job by `onResult` consumers before it fails: each run that throws counts
   * (the next run resumes at the result that threw), so no result is handed to a consumer more
   * than this many times, except after a consumer died mid-job.
   */
  maxDeliveries: number;
}

/** A task's `delivery` setting as written: any field may be left out. */
export interface DeliveryOptions {
  channels?: ResultDelivery['channels'];
  payload?: ResultDelivery['payload'];
  maxPayloadBytes?: number;
  maxJobResults?: number;
  maxJobBytes?: number;
  retention?: { completed?: Partial<RetentionBound>; failed?: Partial<RetentionBound>; maxWaiting?: number };
  maxDeliveries?: number;
}

/**
 * Defaults that cannot fill Redis: per task, at most 10,000 unconsumed results of at most 8 KiB
 * each, plus 10 consumed and 10 failed jobs of at most 1,000 results or 1 MiB each (see
 * `resultMemoryBound`).
 */
export const DEFAULT_DELIVERY: ResultDelivery = {
  channels: ['queue', 'hook'],
  payload: 'full',
  maxPayloadBytes: 8_192,
  maxJobResults: 1_000,
  maxJobBytes: 1_048_576,
  retention: {
    completed: { age: 3_600, count: 10 },
    failed: { age: 7 * 24 * 3_600, count: 10 },
    maxWaiting: 10_000,
  },
  maxDeliveries: 5,
};

/** A task's delivery setting with defaults filled in; throws TaskDefinitionError naming a bad field. */
export function resolveDelivery(task: Pick<AnyTask, 'name' | 'delivery'>): ResultDelivery {
  const d = task.delivery ?? {};
  const r = d.retention ?? {};
  const out: ResultDelivery = {
    channels: d.channels ?? DEFAULT_DELIVERY.channels,
    payload: d.payload ?? DEFAULT_DELIVERY.payload,
    maxPayloadBytes: d.maxPayloadBytes ?? DEFAULT_DELIVERY.maxPayloadBytes,
    maxJobResults: d.maxJobResults ?? DEFAULT_DELIVERY.maxJobResults,
    maxJobBytes: d.maxJobBytes ?? DEFAULT_DELIVERY.maxJobBytes,
    retention: {
      completed: { ...DEFAULT_DELIVERY.retention.completed, ...r.completed },
      failed: { ...DEFAULT_DELIVERY.retention.failed, ...r.failed },
      maxWaiting: r.maxWaiting ?? DEFAULT_DELIVERY.retention.maxWaiting,
    },
    maxDeliveries: d.maxDeliveries ?? DEFAULT_DELIVERY.maxDeliveries,
  };
  const bad = (field: string, why: string) => new TaskDefinitionError(`task "${task.name}": delivery.${field} ${why}`);
  for (const c of out.channels) if (c !== 'queue' && c !== 'hook') throw bad('channels', `has "${String(c)}" (allowed: queue, hook)`);
  if (out.payload !== 'full' && out.payload !== 'ids') throw bad('payload', `must be "full" or "ids", not "${String(out.payload)}"`);
  const counts: Array<[string, number]> = [
    ['maxPayloadBytes', out.maxPayloadBytes],
    ['maxJobResults', out.maxJobResults],
    ['maxJobBytes', out.maxJobBytes],
    ['retention.completed.age', out.retention.completed.age],
    ['retention.completed.count', out.retention.completed.count],
    ['retention.failed.age', out.retention.failed.age],
    ['retention.failed.count', out.retention.failed.count],
    ['retention.maxWaiting', out.retention.maxWaiting],
    ['maxDeliveries', out.maxDeliveries],
  ];
  for (const [field, n] of counts) if (!Number.isInteger(n) || n < 1) throw bad(field, `must be a positive integer, not ${String(n)}`);
  return out;
}

/** Context handed to `onResult`: the transaction lets a hook's database writes commit atomically with the result. */
export interface ResultContext<I, O> {
  itemId: string;
  externalId: string;
  input: I;
  output: O;
  tx: DbTx;
  log: Logger;
}

/** Context handed to `onFailure` when an item has permanently failed. */
export interface FailureContext<I> {
  itemId: string;
  externalId: string;
  input: I;
  code: string;
  message: string;
  tx: DbTx;
  log: Logger;
}

/**
 * A kind of work. Adding one is a single module: a name and settings, an input schema,
 * `buildRequest`, `parseOutput`, and optional hooks.
 */
export interface TaskDefinition<I = unknown, O = unknown> {
  name: string;
  model: string;
  endpoint: Endpoint;
  /** `batch` (default) or `sync`: the same task runs either way with one setting. */
  mode?: 'batch' | 'sync';
  input: z.ZodType<I>;
  /** The request body for one item (the `body` of a batch line). `maxOutputTokens` is set on retries after truncation. */
  buildRequest(input: I, options: { maxOutputTokens?: number }): Record<string, unknown>;
  /** Turns the provider's answer into the typed result, or throws OutputValidationError. */
  parseOutput(output: ProviderOutput, input: I): O;
  /**
   * Whether `parseOutput` reads its `input` argument (default `true`). A task whose parser looks
   * at the answer alone sets `false`: processing then does not read the items' inputs back from
   * PostgreSQL (a join and a JSON parse per result), and `parseOutput` gets `undefined` as input.
   * Hooks always receive the input.
   */
  parseOutputUsesInput?: boolean;
  onResult?(ctx: ResultContext<I, O>): Promise<void> | void;
  onFailure?(ctx: FailureContext<I>): Promise<void> | void;
  limits?: Partial<TaskLimits>;
  /** How final results reach producers: channels, payload and retention. Every field has a default (see `resolveDelivery`). */
  delivery?: DeliveryOptions;
}

/** A task of any input and output type, as the registry holds it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyTask = TaskDefinition<any, any>;

/** Identity helper that gives a task literal its types, its name included. */
export function defineTask<const N extends string, I, O>(
  task: TaskDefinition<I, O> & { name: N },
): TaskDefinition<I, O> & { name: N } {
  return task;
}

/** Parses JSON content and checks it against a schema, failing with the task-level codes. */
export function parseJsonContent<T>(content: string | null, schema: z.ZodType<T>): T {
  if (content === null || content.trim() === '') throw new OutputValidationError('empty_output', 'the answer has no content');
  let value: unknown;
  try {
    value = JSON.parse(content);
  } catch {
    throw new OutputValidationError('not_json', `the answer is not JSON: ${content.slice(0, 80)}`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new OutputValidationError('schema_mismatch', `the answer does not match the schema: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
  }
  return parsed.data;
}

export const DEFAULT_LIMITS: TaskLimits = {
  maxAttempts: 3,
  retryDelayMs: 1_000,
  maxRequeues: 10,
  maxRequestsPerBatch: 50_000,
  maxBytesPerBatch: 200 * 1024 * 1024,
  maxTokensPerBatch: undefined,
  maxInFlightBatches: undefined,
  maxOutputTokens: undefined,
  truncationGrowth: 2,
  maxOutputTokensCeiling: 16_384,
};

/** A task's limits with defaults filled in and provider maxima enforced. */
export function resolveLimits(task: AnyTask): TaskLimits {
  const l = { ...DEFAULT_LIMITS, ...task.limits };
  l.maxRequestsPerBatch = Math.min(l.maxRequestsPerBatch, DEFAULT_LIMITS.maxRequestsPerBatch);
  l.maxBytesPerBatch = Math.min(l.maxBytesPerBatch, DEFAULT_LIMITS.maxBytesPerBatch);
  return l;
}
