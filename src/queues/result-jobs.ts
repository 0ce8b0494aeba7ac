/**
 * The fleet side of result delivery, as pure functions: which results-queue jobs a committed
 * result becomes (payload, job id, retention), and how much Redis the defaults may take.
 * The pipeline commits a chunk of verdicts, then hands the committed rows here and `addBulk`s the
 * jobs; a job id derived from the row makes a re-run of the same commit add nothing new.
 */
import type { JobsOptions } from 'bullmq';
import { resolveDelivery, type AnyTask, type ResultDelivery } from '../tasks/contract.ts';
import type { RecordedItem } from '../store/results.ts';
import type { AttemptRecord, ResultMessage } from './payloads.ts';

/** An item as result recording returns it (columns of `items`, plus the attempt history): the store's row. */
export type CommittedResult = RecordedItem;

/** One entry for `Queue.addBulk`. */
export interface ResultJob {
  name: string;
  data: ResultMessage;
  opts: JobsOptions & { jobId: string };
}

/**
 * The results-queue job id, which is also the message's idempotence key: the same final result
 * always maps to the same key; a later final result of the item (after a retry) to a new one.
 */
export function resultJobId(row: Pick<CommittedResult, 'id' | 'attempts' | 'requeues'>): string {
  return `result-${row.id}-${row.attempts}-${row.requeues}`;
}

/** Bytes of Redis one result job may take besides its payload (job hash fields, list/zset entries, event). */
export const RESULT_JOB_OVERHEAD_BYTES = 1_536;

/**
 * The most Redis memory a task's result jobs can take with this delivery setting: every job the
 * retention allows (unconsumed + consumed + failed), each at the payload limit plus overhead.
 */
export function resultMemoryBound(delivery: ResultDelivery): number {
  const jobs = delivery.retention.maxWaiting + delivery.retention.completed.count + delivery.retention.failed.count;
  return jobs * (delivery.maxPayloadBytes + RESULT_JOB_OVERHEAD_BYTES);
}

function iso(value: Date | string | null): string {
  if (value === null) return new Date().toISOString();
  return value instanceof Date ? value.toISOString() : new Date(value).toISOString();
}

function num(value: unknown): number {
  const n = typeof value === 'number' ? value : Number(value ?? 0);
  return Number.isFinite(n) ? n : 0;
}

function attemptRecord(a: Record<string, unknown>): AttemptRecord {
  const str = (v: unknown) => (v === null || v === undefined ? null : String(v));
  return {
    batchId: str(a.batchId),
    outcome: String(a.outcome ?? 'unknown'),
    errorCode: str(a.errorCode),
    errorMessage: str(a.errorMessage),
    inputTokens: num(a.inputTokens),
    outputTokens: num(a.outputTokens),
    costUsd: num(a.costUsd),
    at: iso((a.at as string | null) ?? null),
  };
}

/** The message for one final result, honouring the payload setting and the size limit. */
export function resultMessage(task: string, row: CommittedResult, delivery: ResultDelivery): ResultMessage {
  const status = row.status === 'succeeded' ? 'succeeded' : 'failed';
  const ids: ResultMessage = {
    v: 1,
    payload: 'ids',
    idempotenceKey: resultJobId(row),
    itemId: row.id,
    externalId: row.external_id,
    task,
    status,
    finishedAt: iso(row.finished_at),
    attempts: row.attempts,
    requeues: row.requeues,
  };
  if (delivery.payload === 'ids') return ids;
  const full: ResultMessage = {
    ...ids,
    payload: 'full',
    usage: { inputTokens: num(row.input_tokens), cachedTokens: num(row.cached_tokens), outputTokens: num(row.output_tokens) },
    costUsd: num(row.cost_usd),
    ...(status === 'succeeded'
      ? { output: row.output }
      : { error: { code: row.error_code ?? 'failed', message: row.error_message ?? '' }, history: (row.history ?? []).map(attemptRecord) }),
  };
  if (Buffer.byteLength(JSON.stringify(full)) <= delivery.maxPayloadBytes) return full;
  return { ...ids, outputOmitted: 'too_large' };
}

/**
 * The results-queue jobs for a chunk of committed rows: final results only (succeeded, failed),
 * none when the task's `queue` channel is off. Each job carries its retention options.
 */
export function resultJobs(task: Pick<AnyTask, 'name' | 'delivery'>, rows: readonly CommittedResult[]): ResultJob[] {
  const delivery = resolveDelivery(task);
  if (!delivery.channels.includes('queue')) return [];
  const { completed, failed } = delivery.retention;
  return rows
    .filter((row) => row.status === 'succeeded' || row.status === 'failed')
    .map((row) => {
      const data = resultMessage(task.name, row, delivery);
      return {
        name: row.external_id,
        data,
        opts: {
          jobId: data.idempotenceKey,
          attempts: delivery.maxDeliveries,
          backoff: { type: 'exponential', delay: 1_000 },
          removeOnComplete: { age: completed.age, count: completed.count },
          removeOnFail: { age: failed.age, count: failed.count },
        },
      };
    });
}

/** Whether the task's in-fleet hooks (`onResult`/`onFailure`) are on. */
export function hooksEnabled(task: Pick<AnyTask, 'name' | 'delivery'>): boolean {
  return resolveDelivery(task).channels.includes('hook');
}
