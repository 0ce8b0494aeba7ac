/*
 * The producer client: typed enqueue, and three ways to get results back.
 * Why it works this way: the fleet publishes one job per final result on `results.<task>`, named
 * after the item's external id, with the idempotence key as job id. `onResult` consumes those jobs
 * (BullMQ: at least once, retried with backoff). `wait` and a handle's `results()` do not consume:
 * they watch the queue's event stream for jobs whose name they wait for, after one scan of the jobs
 * already there, so a result published before the call is found too. BullMQ and ioredis are loaded
 * on first use, so importing `batchfleet/client` stays cheap; PostgreSQL is never needed except for
 * lookups and `payload: 'ids'` tasks.
 */
import type { Job, Queue, QueueEvents, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Db } from '../store/db.ts';
import { droppedResultsKey, holdNoticeKey, QUEUES, resultsQueueName } from '../queues/names.ts';
import type { HoldNotice } from '../queues/notices.ts';
import type { AttemptRecord, IntakePayload, ResultMessage, ResultUsage } from '../queues/payloads.ts';
import { resultJobId } from '../queues/result-jobs.ts';
import type { AnyTask, TaskDefinition } from '../tasks/contract.ts';
import { TaskRegistry } from '../tasks/registry.ts';
import { ClientTaskError, EnqueueValidationError, ResultPayloadError, ResultTimeoutError } from './errors.ts';
import { findItem, type ItemView } from './lookup.ts';

type Bullmq = typeof import('bullmq');
let bullmqModule: Promise<Bullmq> | undefined;
const bullmq = (): Promise<Bullmq> => (bullmqModule ??= import('bullmq'));
type Wire = { resultMessageSchema: typeof import('../queues/payloads.ts').resultMessageSchema; holdNoticeSchema: typeof import('../queues/notices.ts').holdNoticeSchema };
let wireModule: Promise<Wire> | undefined;
/** The zod schemas of the wire formats, also loaded on first use. */
const wire = (): Promise<Wire> =>
  (wireModule ??= Promise.all([import('../queues/payloads.ts'), import('../queues/notices.ts')]).then(([p, n]) => ({
    resultMessageSchema: p.resultMessageSchema,
    holdNoticeSchema: n.holdNoticeSchema,
  })));

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
  /** 1 on the first delivery; more when an earlier delivery threw or its consumer died. */
  deliveryAttempt: number;
}

/** A running `onResult` consumer. */
export interface ResultConsumer {
  readonly worker: Worker;
  close(): Promise<void>;
}

/** What a producer can know about a task right now, from Redis alone. */
export interface TaskStatus {
  task: string;
  /** Set while the fleet holds this task's work (budget, spend cap, provider limit), with the reason and expected wait. */
  held: (HoldNotice & { expectedWaitMs: number }) | null;
  /** Result jobs on the task's results queue, by state. */
  results: { waiting: number; active: number; completed: number; failed: number; delayed: number };
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

/** Watches one task's results queue for the external ids someone waits for. */
class ResultWatcher {
  private readonly waiters = new Map<string, Set<(msg: ResultMessage) => void>>();
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
        if (this.waiters.has(name)) void this.fetch(jobId).catch(onError);
      });
      this.events = events;
      await events.waitUntilReady();
    })();
  }

  /** Calls `fn` with the first result message of each id; returns the unsubscribe function. */
  watch(externalIds: Iterable<string>, fn: (msg: ResultMessage) => void): () => void {
    const ids = [...externalIds];
    for (const id of ids) {
      let set = this.waiters.get(id);
      if (!set) this.waiters.set(id, (set = new Set()));
      set.add(fn);
    }
    return () => {
      for (const id of ids) {
        const set = this.waiters.get(id);
        set?.delete(fn);
        if (set?.size === 0) this.waiters.delete(id);
      }
    };
  }

  /** Looks through the jobs already on the queue for the ids being waited for. */
  async catchUp(): Promise<void> {
    await this.ready;
    const ids = await this.queue.getRanges(['waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized'], 0, -1);
    for (let i = 0; i < ids.length && this.waiters.size > 0; i += 1_000) {
      const page = ids.slice(i, i + 1_000);
      const pipeline = this.redis.pipeline();
      for (const id of page) pipeline.hget(this.queue.toKey(id), 'name');
      const names = (await pipeline.exec()) ?? [];
      const found = page.filter((_, j) => typeof names[j]?.[1] === 'string' && this.waiters.has(names[j]![1] as string));
      for (const jobId of found) await this.fetch(jobId);
    }
  }

  private async fetch(jobId: string): Promise<void> {
    const job = await this.queue.getJob(jobId);
    if (!job) return;
    const set = this.waiters.get(job.name);
    if (!set) return;
    const parsed = (await wire()).resultMessageSchema.safeParse(job.data);
    if (!parsed.success) return; // not a version-1 result message (an older fleet): nothing to hand out
    for (const fn of [...set]) fn(parsed.data);
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
      const job = await intake.add('intake', payload, { attempts: 5, backoff: { type: 'exponential', delay: 500 }, removeOnComplete: { age: 3_600, count: 1_000 }, removeOnFail: { age: 24 * 3_600 } });
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
   * Consumes the task's results queue: `fn` runs once per result, at least once (a throwing `fn`
   * or a dead consumer means the result is delivered again, up to the task's `maxDeliveries`).
   * Deduplicate on `idempotenceKey`. Results come in no particular order.
   */
  onResult<K extends T[number]>(task: K, fn: (result: TaskResult<OutputOf<K>>, info: DeliveryInfo) => unknown, options?: { concurrency?: number }): Promise<ResultConsumer>;
  onResult<N extends Names<T>>(task: N, fn: (result: TaskResult<OutputOf<Named<T, N>>>, info: DeliveryInfo) => unknown, options?: { concurrency?: number }): Promise<ResultConsumer>;
  async onResult(
    taskRef: string | AnyTask,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    fn: (result: TaskResult<any>, info: DeliveryInfo) => unknown,
    options: { concurrency?: number } = {},
  ): Promise<ResultConsumer> {
    const task = this.task(taskRef);
    const { Worker, UnrecoverableError } = await bullmq();
    const { resultMessageSchema } = await wire();
    const blocking = (await this.connection).duplicate();
    const worker = new Worker(
      resultsQueueName(task.name),
      async (job: Job) => {
        const parsed = resultMessageSchema.safeParse(job.data);
        if (!parsed.success) throw new UnrecoverableError(`not a result message: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
        const result = await this.toResult(task, parsed.data);
        await fn(result, { idempotenceKey: parsed.data.idempotenceKey, deliveryAttempt: job.attemptsMade + 1 });
      },
      { connection: blocking, prefix: this.prefix, concurrency: options.concurrency ?? 10 },
    );
    worker.on('error', () => undefined);
    const consumer: ResultConsumer = {
      worker,
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

  /** Whether the fleet holds the task's work now (and why, and for how long), and its results queue's counts. */
  async status(taskRef: Names<T> | T[number]): Promise<TaskStatus> {
    const task = this.task(taskRef);
    const redis = await this.connection;
    const queue = await this.queue(resultsQueueName(task.name));
    const [raw, dropped, counts] = await Promise.all([
      redis.get(holdNoticeKey(this.prefix, task.name)),
      redis.get(droppedResultsKey(this.prefix, task.name)),
      queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed'),
    ]);
    let held: TaskStatus['held'] = null;
    if (raw) {
      const parsed = (await wire()).holdNoticeSchema.safeParse(JSON.parse(raw));
      if (parsed.success) held = { ...parsed.data, expectedWaitMs: Math.max(0, Date.parse(parsed.data.retryAt) - Date.now()) };
    }
    return {
      task: task.name,
      held,
      results: { waiting: counts.waiting ?? 0, active: counts.active ?? 0, completed: counts.completed ?? 0, failed: counts.failed ?? 0, delayed: counts.delayed ?? 0 },
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
    idempotenceKey: idempotenceKey || resultJobId(view),
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
