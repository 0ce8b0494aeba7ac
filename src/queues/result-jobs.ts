/**
 * The fleet side of result delivery, as pure functions: which results-queue jobs a committed chunk
 * of results becomes (messages, chunk jobs, ids, retention), and how much Redis a task's results
 * may take. The pipeline commits a chunk of verdicts, then hands the committed rows here and
 * `addBulk`s the jobs: one job per chunk (split at `maxJobResults` / `maxJobBytes`), whose id is
 * derived from its results, so a re-run of the same commit adds nothing new.
 */
import type { JobsOptions } from 'bullmq';
import { resolveDelivery, type AnyTask, type ResultDelivery } from '../tasks/contract.ts';
import type { RecordedItem } from '../store/results.ts';
import { idFilterBytes } from './id-filter.ts';
import type { AttemptRecord, ResultChunk, ResultMessage } from './payloads.ts';
import { resultChunkId, resultChunkName, resultIdempotenceKey } from './result-chunks.ts';

export { resultIdempotenceKey };

/** An item as result recording returns it (columns of `items`, plus the attempt history): the store's row. */
export type CommittedResult = RecordedItem;

/** One entry for `Queue.addBulk`: a chunk of result messages. */
export interface ResultJob {
  name: string;
  data: ResultChunk;
  opts: JobsOptions & { jobId: string };
}

/** Bytes of Redis one results job may take besides its data and name (job hash fields, list and set entries). */
export const RESULT_JOB_OVERHEAD_BYTES = 1_536;
/** The largest ids-only message: the ids, a 256-character external id JSON-escaped, a task name under 200 characters. */
export const IDS_MESSAGE_BYTES = 2_048;
/** Entries BullMQ keeps in a queue's event stream: its default `maxLenEvents` (10,000), trimmed in whole nodes of 100. */
export const RESULT_EVENTS_KEPT = 10_100;
/** Bytes of one event-stream entry besides a job name. */
export const RESULT_EVENT_BYTES = 192;
/** Redis' allocator rounds a large string up to its size class: at most a quarter more. */
const ALLOCATOR_SLACK = 1.25;
const ENVELOPE_BYTES = JSON.stringify({ v: 1, kind: 'results', results: [] }).length;

function nameBytes(results: number): number {
  return `results:${results}:`.length + Math.ceil((idFilterBytes(results) * 4) / 3);
}

/**
 * The most Redis memory a task's results can take with this delivery setting, every key of its
 * results queue included: `maxWaiting` unconsumed results (at worst one per job), the retained
 * completed and failed jobs (each full: `maxJobResults` results or `maxJobBytes`), each message
 * at `maxPayloadBytes` (or an ids-only message, if larger), and the queue's event stream (whose
 * `added` entries carry job names). Active and delayed jobs (being consumed, or retried) are the
 * consumers' and not counted.
 */
export function resultMemoryBound(delivery: ResultDelivery): number {
  const message = Math.max(delivery.maxPayloadBytes, IDS_MESSAGE_BYTES);
  const job = (n: number) =>
    (Math.max(message, Math.min(delivery.maxJobBytes, n * (message + 1))) + ENVELOPE_BYTES) * ALLOCATOR_SLACK + RESULT_JOB_OVERHEAD_BYTES + nameBytes(n);
  const waiting = delivery.retention.maxWaiting * job(1);
  const finished = (delivery.retention.completed.count + delivery.retention.failed.count) * job(delivery.maxJobResults);
  const events = RESULT_EVENTS_KEPT * (RESULT_EVENT_BYTES + nameBytes(delivery.maxJobResults));
  return Math.ceil(waiting + finished + events);
}

/** The last Date formatted: a chunk's results share their finishing time. */
let lastIso: { time: number; text: string } | undefined;

function iso(value: Date | string | null): string {
  if (value === null) return new Date().toISOString();
  if (!(value instanceof Date)) return new Date(value).toISOString();
  const time = value.getTime();
  if (lastIso?.time !== time) lastIso = { time, text: value.toISOString() };
  return lastIso.text;
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

const sized = (message: ResultMessage) => ({ message, bytes: Buffer.byteLength(JSON.stringify(message)) });

/**
 * A result's message and the bytes of its JSON. Built as a literal plus property stores rather than
 * spreads: Node 20 builds `{ ...ids, more }` on a slow path, a few microseconds a message.
 */
function encode(task: string, row: CommittedResult, delivery: ResultDelivery): { message: ResultMessage; bytes: number } {
  const status = row.status === 'succeeded' ? 'succeeded' : 'failed';
  const head = (payload: ResultMessage['payload']): ResultMessage => ({
    v: 1,
    payload,
    idempotenceKey: resultIdempotenceKey(row),
    itemId: row.id,
    externalId: row.external_id,
    task,
    status,
    finishedAt: iso(row.finished_at),
    attempts: row.attempts,
    requeues: row.requeues,
  });
  if (delivery.payload === 'ids') return sized(head('ids'));
  const full = head('full');
  full.usage = { inputTokens: num(row.input_tokens), cachedTokens: num(row.cached_tokens), outputTokens: num(row.output_tokens) };
  full.costUsd = num(row.cost_usd);
  if (status === 'succeeded') full.output = row.output;
  else {
    full.error = { code: row.error_code ?? 'failed', message: row.error_message ?? '' };
    full.history = (row.history ?? []).map(attemptRecord);
  }
  const encoded = sized(full);
  if (encoded.bytes <= delivery.maxPayloadBytes) return encoded;
  const omitted = head('ids');
  omitted.outputOmitted = 'too_large';
  return sized(omitted);
}

/** The message for one final result, honouring the payload setting and the size limit. */
export function resultMessage(task: string, row: CommittedResult, delivery: ResultDelivery): ResultMessage {
  return encode(task, row, delivery).message;
}

/**
 * The results-queue jobs for a chunk of committed rows: final results only (succeeded, failed),
 * none when the task's `queue` channel is off. Messages are ordered by idempotence key and cut
 * into jobs of at most `maxJobResults` messages and `maxJobBytes` of JSON, so the same rows always
 * give the same jobs, whatever their order. Each job carries its retention options.
 */
export function resultJobs(task: Pick<AnyTask, 'name' | 'delivery'>, rows: readonly CommittedResult[]): ResultJob[] {
  const delivery = resolveDelivery(task);
  if (!delivery.channels.includes('queue')) return [];
  const { completed, failed } = delivery.retention;
  const encoded = rows
    .filter((row) => row.status === 'succeeded' || row.status === 'failed')
    .map((row) => encode(task.name, row, delivery))
    .sort((a, b) => (a.message.idempotenceKey < b.message.idempotenceKey ? -1 : a.message.idempotenceKey > b.message.idempotenceKey ? 1 : 0));
  const chunks: ResultMessage[][] = [];
  let current: ResultMessage[] = [];
  let bytes = ENVELOPE_BYTES;
  for (const { message, bytes: size } of encoded) {
    const added = size + (current.length > 0 ? 1 : 0);
    if (current.length > 0 && (current.length >= delivery.maxJobResults || bytes + added > delivery.maxJobBytes)) {
      chunks.push(current);
      current = [];
      bytes = ENVELOPE_BYTES;
    }
    bytes += size + (current.length > 0 ? 1 : 0);
    current.push(message);
  }
  if (current.length > 0) chunks.push(current);
  return chunks.map((results) => ({
    name: resultChunkName(results.map((m) => m.externalId)),
    data: { v: 1, kind: 'results', results },
    opts: {
      jobId: resultChunkId(results.map((m) => m.idempotenceKey)),
      attempts: delivery.maxDeliveries,
      backoff: { type: 'exponential', delay: 1_000 },
      removeOnComplete: { age: completed.age, count: completed.count },
      removeOnFail: { age: failed.age, count: failed.count },
    },
  }));
}

/** Whether the task's in-fleet hooks (`onResult`/`onFailure`) are on. */
export function hooksEnabled(task: Pick<AnyTask, 'name' | 'delivery'>): boolean {
  return resolveDelivery(task).channels.includes('hook');
}
