/*
 * The producer client: typed enqueue, and three ways to get results back.
 * Why it works this way: the fleet publishes each committed chunk of final results as one job on
 * `results.<task>` (`{ v: 1, kind: 'results', results: ResultMessage[] }`, id `results-<n>-<hash>`,
 * name `results:<n>:<filter of the external ids>`; see src/queues/result-chunks.ts). `onResult`
 * consumes those jobs (BullMQ: at least once, retried with backoff) and hands their results out
 * one by one, resuming a retried job at the result that threw. `wait` and a handle's `results()`
 * do not consume: they watch the queue's event stream for added jobs whose name's filter may hold
 * an id they wait for, after one scan of the jobs already there (names first, then only the data
 * of the jobs that may hold one), so a result published before the call is found too. BullMQ and
 * ioredis are loaded on first use, so importing `batchfleet/client` stays cheap; PostgreSQL is
 * never needed except for lookups and `payload: 'ids'` tasks.
 */
import type { Job, Queue, QueueEvents, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Db } from '../store/db.ts';
import { idProbe, mayContain, type IdProbe } from '../queues/id-filter.ts';
import { INTAKE_JOB_OPTIONS } from '../queues/intake-jobs.ts';
import { droppedResultsKey, holdNoticeKey, QUEUES, resultsQueueName } from '../queues/names.ts';
import type { HoldNotice } from '../queues/notices.ts';
import type { AttemptRecord, IntakePayload, ResultMessage, ResultUsage } from '../queues/payloads.ts';
import { chunkNameFilter, countResults, isResultChunkId, RESULT_JOB_STATES, resultIdempotenceKey, type ResultJobState } from '../queues/result-chunks.ts';
import type { AnyTask, TaskDefinition } from '../tasks/contract.ts';
import { TaskRegistry } from '../tasks/registry.ts';
import { ClientTaskError, EnqueueValidationError, ResultMessageError, ResultPayloadError, ResultTimeoutError } from './errors.ts';
import { findItem, type ItemView } from './lookup.ts';

type Bullmq = typeof import('bullmq');
let bullmqModule: Promise<Bullmq> | undefined;
const bullmq = (): Promise<Bullmq> => (bullmqModule ??= import('bullmq'));
type Payloads = typeof import('../queues/payloads.ts');
type Wire = {
  resultMessageSchema: Payloads['resultMessageSchema'];
  resultChunkEnvelopeSchema: Payloads['resultChunkEnvelopeSchema'];
  holdNoticeSchema: typeof import('../queues/notices.ts').holdNoticeSchema;
};
let wireModule: Promise<Wire> | undefined;
/** The zod schemas of the wire formats, also loaded on first use. */
const wire = (): Promise<Wire> =>
  (wireModule ??= Promise.all([import('../queues/payloads.ts'), import('../queues/notices.ts')]).then(([p, n]) => ({
    resultMessageSchema: p.resultMessageSchema,
    resultChunkEnvelopeSchema: p.resultChunkEnvelopeSchema,
    holdNoticeSchema: n.holdNoticeSchema,
  })));

/**
 * The messages of a results job: a chunk's, or the one message of a per-result job of a fleet from
 * before chunks; undefined when the data is neither (each message is checked by the caller).
 */
function jobMessages(data: unknown, schemas: Wire): unknown[] | undefined {
  const chunk = schemas.resultChunkEnvelopeSchema.safeParse(data);
  if (chunk.success) return chunk.data.results;
  return schemas.resultMessageSchema.safeParse(data).success ? [data] : undefined;
}

/** Where a results job stopped: results before `done` were handled; the one at `done` was handed out `deliveries` times. */
interface ChunkProgress {
  done: number;
  deliveries: number;
  /** Runs of the job that ended without finishing or throwing (a consumer died), as of this record. */
  stalls: number;
}

function chunkProgress(raw: unknown): ChunkProgress {
  const p = (typeof raw === 'object' && raw !== null ? raw : {}) as Partial<Record<keyof ChunkProgress, unknown>>;
  const int = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : 0);
  return { done: int(p.done), deliveries: int(p.deliveries), stalls: int(p.stalls) };
}

/** The input type of a task definition (what `enqueue` accepts per item). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type InputOf<K> = K extends TaskDefinition<infer I, any> ? I : never;
/** The output type of a task definition (what a succeeded result carries). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type OutputOf<K> = K extends TaskDefinition<any, infer O> ? O : never;

type Names<T extends readonly AnyTask[]> = T[number]['name'];
type Named<T extends readonly AnyTask[], N> = Extract<T[number], { name: N }>;
/** The only task's name when the client has one task; any of its names otherwise. */
type DefaultName<T extends readonly AnyTask[]> = T extends readonly [infer Only extends AnyTask] ? Only['name'] : Names<T>;

/** What every result has, succeeded or failed. */
export interface ResultBase {
  /** Same for every delivery of this result; deduplicate on it (deliveries are at least once). */
  idempotenceKey: string;
  itemId: string;
  externalId: string;
  task: string;
  finishedAt: Date;
  /** Attempts that ran at the provider. */
  attempts: number;
  /** Times the item came back unexecuted (expired or failed batch) and was queued again. */
  requeues: number;
  /** Tokens summed over all attempts. */
  usage: ResultUsage;
  /** USD summed over all attempts. */
  costUsd: number;
}

/** A result whose output passed the task's `parseOutput`. */
export interface SucceededResult<O> extends ResultBase {
  status: 'succeeded';
  output: O;
}

/** An item that failed for good: why, and every attempt it had. */
export interface FailedResult extends ResultBase {
  status: 'failed';
  error: { code: string; message: string };
  history: AttemptRecord[];
}

/** A final result of one item. */
export type TaskResult<O> = SucceededResult<O> | FailedResult;

/** One item to enqueue: the producer's own id (unique per task) and the task's input. */
export interface EnqueueItem<I> {
  externalId: string;
  input: I;
}

export interface WaitOptions {
  /** Milliseconds before `ResultTimeoutError` (default: wait forever). */
  timeout?: number;
}

/** What `enqueue` returns: the items it sent, and their results when you want them. */
export interface ResultHandle<O> {
  readonly task: string;
  readonly externalIds: readonly string[];
  /** The intake jobs that carried the items. */
  readonly jobIds: readonly string[];
  /** Yields each item's final result once, in the order they finish. */
  results(options?: WaitOptions): AsyncGenerator<TaskResult<O>, void, undefined>;
  /** Every item's final result, in the order of `externalIds`. */
  wait(options?: WaitOptions): Promise<Array<TaskResult<O>>>;
}

/** Delivery details handed to an `onResult` handler next to the result. */
export interface DeliveryInfo {
  idempotenceKey: string;
  /**
   * 1 on the first delivery of this result; more when an earlier delivery of it threw, or when a
   * consumer died while its job was running (then every result of the job it may have reached
   * counts as delivered once more).
   */
  deliveryAttempt: number;
}

/** Options of `onResult`. */
export interface OnResultOptions {
  /** Results jobs handled at once (default 10); the results of one job are handled one after another, in order. */
  concurrency?: number;
  /** Called for each message that is not a valid result message; it is skipped, the rest of its job is delivered. */
  onInvalid?: (error: ResultMessageError) => void;
}

/** A running `onResult` consumer. */
export interface ResultConsumer {
  readonly worker: Worker;
  /** Messages skipped so far because they were not valid result messages. */
  readonly skipped: number;
  close(): Promise<void>;
}

/** What a producer can know about a task right now, from Redis alone. */
export interface TaskStatus {
  task: string;
  /** Set while the fleet holds this task's work (budget, spend cap, provider limit), with the reason and expected wait. */
  held: (HoldNotice & { expectedWaitMs: number }) | null;
  /** Results (not jobs) on the task's results queue, by the state of the job that holds them; counted from job ids, no job is read. */
  results: Record<ResultJobState, number>;
  /** Jobs on the task's results queue, by state (each holds a chunk of up to `delivery.maxJobResults` results). */
  jobs: Record<ResultJobState, number>;
  /** Results dropped unconsumed because the queue was over `retention.maxWaiting` (they stay in PostgreSQL). */
  dropped: number;
}

export interface ClientOptions<T extends readonly AnyTask[]> {
  /** An ioredis connection (with `maxRetriesPerRequest: null`, as BullMQ needs) or a redis:// URL. */
  redis: Redis | string;
  /** The task definitions (or a registry) this producer enqueues: they type `enqueue` and validate items before sending. */
  tasks: T | TaskRegistry;
  /** The fleet's BullMQ prefix (default: BATCHFLEET_PREFIX, else `batchfleet`). */
  prefix?: string;
  /** Optional PostgreSQL client: enables `item()` lookups and results of `payload: 'ids'` tasks. */
  db?: Db;
}

/** Items per intake job (the intake accepts up to 10,000). */
const INTAKE_CHUNK = 1_000;

/** Job ids whose names are read in one pipeline by `catchUp`. */
const NAME_PAGE = 500;
/** Jobs whose data is read in one pipeline (each up to `maxJobBytes`). */
const DATA_PAGE = 8;

/** Watches one task's results queue for the external ids someone waits for. */
class ResultWatcher {
  private readonly waiters = new Map<string, { probe: IdProbe; fns: Set<(msg: ResultMessage) => void> }>();
  private events: QueueEvents | undefined;
  private readonly blocking: Redis;
  readonly ready: Promise<void>;

  constructor(
    private readonly queue: Queue,
    private readonly redis: Redis,
    prefix: string,
    task: string,
    onError: (err: unknown) => void,
  ) {
    // BullMQ leaves a connection it was handed open on close: the watcher owns and quits this one.
    const blocking = redis.duplicate();
    this.blocking = blocking;
    this.ready = (async () => {
      const { QueueEvents } = await bullmq();
      const events = new QueueEvents(resultsQueueName(task), { connection: blocking, prefix });
      events.on('error', onError);
      events.on('added', ({ jobId, name }) => {
        if (this.mayHold(jobId, name)) void this.fetch([jobId]).catch(onError);
      });
      this.events = events;
      await events.waitUntilReady();
    })();
  }

  /** Calls `fn` with the result message of each id as it is found; returns the unsubscribe function. */
  watch(externalIds: Iterable<string>, fn: (msg: ResultMessage) => void): () => void {
    const ids = [...externalIds];
    for (const id of ids) {
      let waiter = this.waiters.get(id);
      if (!waiter) this.waiters.set(id, (waiter = { probe: idProbe(id), fns: new Set() }));
      waiter.fns.add(fn);
    }
    return () => {
      for (const id of ids) {
        const waiter = this.waiters.get(id);
        waiter?.fns.delete(fn);
        if (waiter?.fns.size === 0) this.waiters.delete(id);
      }
    };
  }

  /** Whether a job may hold a result someone waits for, from its id and name alone. */
  private mayHold(jobId: string, name: string): boolean {
    if (this.waiters.size === 0) return false;
    if (!isResultChunkId(jobId)) return this.waiters.has(name); // a per-result job of an earlier fleet, named after its external id
    const filter = chunkNameFilter(name);
    if (!filter) return true;
    for (const { probe } of this.waiters.values()) if (mayContain(filter, probe)) return true;
    return false;
  }

  /** Looks through the jobs already on the queue: their names in pages, then the data of those that may hold a waited-for id. */
  async catchUp(): Promise<void> {
    await this.ready;
    const ids = await this.queue.getRanges(['waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized'], 0, -1);
    for (let i = 0; i < ids.length && this.waiters.size > 0; i += NAME_PAGE) {
      const page = ids.slice(i, i + NAME_PAGE);
      const pipeline = this.redis.pipeline();
      for (const id of page) pipeline.hget(this.queue.toKey(id), 'name');
      const names = (await pipeline.exec()) ?? [];
      const found = page.filter((id, j) => {
        const name = names[j]?.[1];
        return typeof name === 'string' && this.mayHold(id, name);
      });
      for (let k = 0; k < found.length && this.waiters.size > 0; k += DATA_PAGE) await this.fetch(found.slice(k, k + DATA_PAGE));
    }
  }

  /** Reads the data of these jobs and hands each waited-for message to its waiters. */
  private async fetch(jobIds: string[]): Promise<void> {
    const pipeline = this.redis.pipeline();
    for (const id of jobIds) pipeline.hget(this.queue.toKey(id), 'data');
    const rows = (await pipeline.exec()) ?? [];
    const schemas = await wire();
    for (const [, raw] of rows) {
      if (typeof raw !== 'string' || this.waiters.size === 0) continue;
      let data: unknown;
      try {
        data = JSON.parse(raw);
      } catch {
        continue;
      }
      for (const message of jobMessages(data, schemas) ?? []) {
        const externalId = (message as { externalId?: unknown } | null)?.externalId;
        const waiter = typeof externalId === 'string' ? this.waiters.get(externalId) : undefined;
        if (!waiter) continue;
        const parsed = schemas.resultMessageSchema.safeParse(message);
        if (!parsed.success) continue; // not a version-1 result message: nothing to hand out
        for (const fn of [...waiter.fns]) fn(parsed.data);
      }
    }
  }

  async close(): Promise<void> {
    await this.ready.catch(() => undefined);
    await this.events?.close();
    this.blocking.disconnect();
  }
}

/**
 * A producer's view of batchfleet: typed `enqueue`, results by iterator, callback or wait, and
 * the task's hold status. Create it with `createClient`.
 */
export class ProducerClient<T extends readonly AnyTask[]> {
  private readonly tasks = new Map<string, AnyTask>();
  private readonly connection: Redis | Promise<Redis>;
  private readonly ownsConnection: boolean;
  private readonly prefix: string;
  private readonly queues = new Map<string, Promise<Queue>>();
  private readonly watchers = new Map<string, ResultWatcher>();
  private readonly consumers = new Set<ResultConsumer>();
  private closed = false;

  constructor(private readonly options: ClientOptions<T>) {
    const list = options.tasks instanceof TaskRegistry ? options.tasks.all() : options.tasks;
    for (const task of list) this.tasks.set(task.name, task);
    if (this.tasks.size === 0) throw new ClientTaskError('createClient needs at least one task in `tasks`');
    this.prefix = options.prefix ?? process.env.BATCHFLEET_PREFIX ?? 'batchfleet';
    this.ownsConnection = typeof options.redis === 'string';
    this.connection =
      typeof options.redis === 'string'
        ? import('../queues/connection.ts').then(({ createRedis }) => createRedis(options.redis as string))
        : options.redis;
  }

  /** Sends items of one task to the fleet. Every item is checked against the task's input schema first. */
  enqueue<K extends T[number]>(task: K, items: ReadonlyArray<EnqueueItem<InputOf<K>>>): Promise<ResultHandle<OutputOf<K>>>;
  enqueue<N extends Names<T>>(task: N, items: ReadonlyArray<EnqueueItem<InputOf<Named<T, N>>>>): Promise<ResultHandle<OutputOf<Named<T, N>>>>;
  async enqueue(taskRef: string | AnyTask, items: ReadonlyArray<EnqueueItem<unknown>>): Promise<ResultHandle<unknown>> {
    const task = this.task(taskRef);
    if (!Array.isArray(items) || items.length === 0) throw new EnqueueValidationError(task.name, [{ externalId: '', path: 'items', message: 'no items given' }]);
    const problems: EnqueueValidationError['problems'] = [];
    for (const [i, item] of items.entries()) {
      const externalId = typeof item?.externalId === 'string' ? item.externalId : '';
      if (externalId.length === 0 || externalId.length > 256) {
        problems.push({ externalId, path: `items[${i}].externalId`, message: 'must be a string of 1 to 256 characters' });
        continue;
      }
      const parsed = task.input.safeParse(item.input);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        problems.push({ externalId, path: issue?.path.join('.') ?? '', message: issue?.message ?? 'invalid input' });
      }
    }
    if (problems.length) throw new EnqueueValidationError(task.name, problems);
    const intake = await this.queue(QUEUES.intake);
    const jobIds: string[] = [];
    for (let i = 0; i < items.length; i += INTAKE_CHUNK) {
      const payload: IntakePayload = { task: task.name, items: items.slice(i, i + INTAKE_CHUNK).map((it) => ({ externalId: it.externalId, input: it.input })) };
      const job = await intake.add('intake', payload, INTAKE_JOB_OPTIONS);
      jobIds.push(job.id!);
    }
    const externalIds = items.map((it) => it.externalId);
    return {
      task: task.name,
      externalIds,
      jobIds,
      results: (options) => this.stream(task, externalIds, options),
      wait: (options) => this.collect(task, externalIds, options),
    };
  }

  /**
   * Waits for the final results of items of one task (the client's only task unless `task` is
   * given) and resolves with them in the order of `externalIds`. Does not consume result jobs.
   */
  async wait<N extends Names<T> = DefaultName<T>>(
    externalIds: readonly string[],
    options: WaitOptions & { task?: N } = {},
  ): Promise<Array<TaskResult<OutputOf<Named<T, N>>>>> {
    let task: AnyTask;
    if (options.task !== undefined) task = this.task(options.task);
    else if (this.tasks.size === 1) task = [...this.tasks.values()][0]!;
    else throw new ClientTaskError(`wait() needs { task } when the client has more than one task (${[...this.tasks.keys()].join(', ')})`);
    return (await this.collect(task, externalIds, options)) as Array<TaskResult<OutputOf<Named<T, N>>>>;
  }

  /**
   * Consumes the task's results queue: `fn` runs once per result, at least once. Each job holds a
   * chunk of results, handed to `fn` one after another, in order; when `fn` throws at one of them,
   * the job is retried (with backoff) from that result on, the ones before it are not handed out
   * again. A consumer that dies mid-job means its job runs again from the last result that threw
   * (or the start). A job fails after `fn` threw `maxDeliveries` times in it. A message that is not
   * a valid result message is skipped (`skipped`, `onInvalid`). Deduplicate on `idempotenceKey`.
   * Results come in no particular order.
   */
  onResult<K extends T[number]>(task: K, fn: (result: TaskResult<OutputOf<K>>, info: DeliveryInfo) => unknown, options?: OnResultOptions): Promise<ResultConsumer>;
  onResult<N extends Names<T>>(task: N, fn: (result: TaskResult<OutputOf<Named<T, N>>>, info: DeliveryInfo) => unknown, options?: OnResultOptions): Promise<ResultConsumer>;
  async onResult(
    taskRef: string | AnyTask,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    fn: (result: TaskResult<any>, info: DeliveryInfo) => unknown,
    options: OnResultOptions = {},
  ): Promise<ResultConsumer> {
    const task = this.task(taskRef);
    const { Worker, UnrecoverableError } = await bullmq();
    const schemas = await wire();
    const blocking = (await this.connection).duplicate();
    let skipped = 0;
    const worker = new Worker(
      resultsQueueName(task.name),
      async (job: Job) => {
        const messages = jobMessages(job.data, schemas);
        if (!messages) throw new UnrecoverableError('not a results job (neither a chunk of result messages nor one result message)');
        const from = chunkProgress(job.progress);
        // Earlier runs that neither finished nor threw: a consumer died in them.
        const stalls = Math.max(0, job.attemptsStarted - 1 - job.attemptsMade);
        const unseen = Math.max(0, stalls - from.stalls);
        for (let i = from.done; i < messages.length; i++) {
          const parsed = schemas.resultMessageSchema.safeParse(messages[i]);
          if (!parsed.success) {
            skipped++;
            options.onInvalid?.(new ResultMessageError(task.name, job.id ?? '', i, parsed.error.issues[0]?.message ?? 'invalid'));
            continue;
          }
          const deliveryAttempt = 1 + unseen + (i === from.done ? from.deliveries : 0);
          try {
            const result = await this.toResult(task, parsed.data);
            await fn(result, { idempotenceKey: parsed.data.idempotenceKey, deliveryAttempt });
          } catch (err) {
            const progress: ChunkProgress = { done: i, deliveries: deliveryAttempt, stalls };
            await job.updateProgress(progress as unknown as object).catch(() => undefined); // without it, the retry starts earlier: still at least once
            throw err;
          }
        }
      },
      { connection: blocking, prefix: this.prefix, concurrency: options.concurrency ?? 10 },
    );
    worker.on('error', () => undefined);
    const consumer: ResultConsumer = {
      worker,
      get skipped() {
        return skipped;
      },
      close: async () => {
        this.consumers.delete(consumer);
        await worker.close();
        blocking.disconnect();
      },
    };
    this.consumers.add(consumer);
    await worker.waitUntilReady();
    return consumer;
  }

  /**
   * Whether the fleet holds the task's work now (and why, and for how long), the results on its
   * results queue (`results`, counted in results) and the jobs that hold them (`jobs`), and how
   * many results were dropped unconsumed.
   */
  async status(taskRef: Names<T> | T[number]): Promise<TaskStatus> {
    const task = this.task(taskRef);
    const redis = await this.connection;
    const queue = await this.queue(resultsQueueName(task.name));
    const [raw, dropped, jobs, results] = await Promise.all([
      redis.get(holdNoticeKey(this.prefix, task.name)),
      redis.get(droppedResultsKey(this.prefix, task.name)),
      queue.getJobCounts(...RESULT_JOB_STATES),
      countResults(queue),
    ]);
    let held: TaskStatus['held'] = null;
    if (raw) {
      const parsed = (await wire()).holdNoticeSchema.safeParse(JSON.parse(raw));
      if (parsed.success) held = { ...parsed.data, expectedWaitMs: Math.max(0, Date.parse(parsed.data.retryAt) - Date.now()) };
    }
    return {
      task: task.name,
      held,
      results,
      jobs: Object.fromEntries(RESULT_JOB_STATES.map((state) => [state, jobs[state] ?? 0])) as Record<ResultJobState, number>,
      dropped: Number(dropped ?? 0),
    };
  }

  /** An item's state and attempt history from PostgreSQL (needs the `db` option). */
  async item(taskRef: Names<T> | T[number], externalId: string): Promise<ItemView | null> {
    const task = this.task(taskRef);
    if (!this.options.db) throw new ClientTaskError('item() needs the `db` option of createClient');
    return findItem(this.options.db, { task: task.name, externalId });
  }

  /** Stops consumers and watchers and closes queues (and the Redis connection, if the client opened it). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.consumers].map((c) => c.close()));
    await Promise.all([...this.watchers.values()].map((w) => w.close()));
    await Promise.all([...this.queues.values()].map(async (q) => (await q).close()));
    if (this.ownsConnection) await (await this.connection).quit().catch(() => undefined);
  }

  private task(ref: string | AnyTask): AnyTask {
    const name = typeof ref === 'string' ? ref : ref?.name;
    const task = name === undefined ? undefined : this.tasks.get(name);
    if (!task) throw new ClientTaskError(`task "${String(name)}" is not one of this client's tasks (${[...this.tasks.keys()].join(', ')})`);
    return task;
  }

  private queue(name: string): Promise<Queue> {
    if (this.closed) return Promise.reject(new ClientTaskError('the client is closed'));
    let q = this.queues.get(name);
    if (!q) {
      q = (async () => {
        const { Queue } = await bullmq();
        const queue = new Queue(name, { connection: await this.connection, prefix: this.prefix });
        queue.on('error', () => undefined);
        return queue;
      })();
      this.queues.set(name, q);
    }
    return q;
  }

  private async watcher(task: string): Promise<ResultWatcher> {
    let w = this.watchers.get(task);
    if (!w) {
      w = new ResultWatcher(await this.queue(resultsQueueName(task)), await this.connection, this.prefix, task, () => undefined);
      this.watchers.set(task, w);
    }
    return w;
  }

  /** Final results of `externalIds` as they arrive (each once), until all are in or the time is up. */
  private async *stream(task: AnyTask, externalIds: readonly string[], options: WaitOptions = {}): AsyncGenerator<TaskResult<unknown>, void, undefined> {
    const pending = new Set(externalIds);
    if (pending.size === 0) return;
    const deadline = options.timeout === undefined ? undefined : Date.now() + options.timeout;
    const inbox: ResultMessage[] = [];
    let wake: (() => void) | undefined;
    const watcher = await this.watcher(task.name);
    const unsubscribe = watcher.watch(pending, (msg) => {
      inbox.push(msg);
      wake?.();
    });
    try {
      await watcher.catchUp();
      while (pending.size > 0) {
        const msg = inbox.shift();
        if (msg) {
          if (!pending.delete(msg.externalId)) continue; // a second final result of the same item
          yield await this.toResult(task, msg);
          continue;
        }
        const left = deadline === undefined ? undefined : deadline - Date.now();
        if (left !== undefined && left <= 0) throw new ResultTimeoutError(task.name, [...pending], options.timeout!);
        await new Promise<void>((resolve) => {
          wake = resolve;
          if (left !== undefined) setTimeout(resolve, left).unref?.();
        });
        wake = undefined;
      }
    } finally {
      unsubscribe();
    }
  }

  private async collect(task: AnyTask, externalIds: readonly string[], options: WaitOptions = {}): Promise<Array<TaskResult<unknown>>> {
    const byId = new Map<string, TaskResult<unknown>>();
    for await (const result of this.stream(task, externalIds, options)) byId.set(result.externalId, result);
    return externalIds.map((id) => byId.get(id)!);
  }

  /** A result message as the producer sees it; ids-only messages are completed from PostgreSQL. */
  private async toResult(task: AnyTask, msg: ResultMessage): Promise<TaskResult<unknown>> {
    if (msg.payload === 'full') {
      const base: ResultBase = {
        idempotenceKey: msg.idempotenceKey,
        itemId: msg.itemId,
        externalId: msg.externalId,
        task: msg.task,
        finishedAt: new Date(msg.finishedAt),
        attempts: msg.attempts,
        requeues: msg.requeues,
        usage: msg.usage ?? { inputTokens: 0, cachedTokens: 0, outputTokens: 0 },
        costUsd: msg.costUsd ?? 0,
      };
      return msg.status === 'succeeded'
        ? { ...base, status: 'succeeded', output: msg.output }
        : { ...base, status: 'failed', error: msg.error ?? { code: 'failed', message: '' }, history: msg.history ?? [] };
    }
    const db = this.options.db;
    if (!db) throw new ResultPayloadError(task.name, msg.externalId);
    const view = await findItem(db, { id: msg.itemId });
    if (!view) throw new ResultPayloadError(task.name, msg.externalId);
    return fromItemView(view, msg.idempotenceKey);
  }
}

/** A result built from PostgreSQL's item row (for `payload: 'ids'` messages). */
function fromItemView(view: ItemView, idempotenceKey: string): TaskResult<unknown> {
  const base: ResultBase = {
    idempotenceKey: idempotenceKey || resultIdempotenceKey(view),
    itemId: view.id,
    externalId: view.externalId,
    task: view.task,
    finishedAt: view.finishedAt ?? new Date(),
    attempts: view.attempts,
    requeues: view.requeues,
    usage: view.usage,
    costUsd: view.costUsd,
  };
  if (view.status === 'succeeded') return { ...base, status: 'succeeded', output: view.output };
  return {
    ...base,
    status: 'failed',
    error: { code: view.errorCode ?? 'failed', message: view.errorMessage ?? '' },
    history: view.history.map((h) => ({ ...h, at: h.at.toISOString() })),
  };
}

/**
 * Creates a producer client. `tasks` types `enqueue`: `client.enqueue(classifyTicket, [{ externalId, input }])`
 * (or by name) accepts only that task's input, and results carry that task's output type.
 */
export function createClient<const T extends readonly AnyTask[]>(options: ClientOptions<T>): ProducerClient<T> {
  return new ProducerClient(options);
}
