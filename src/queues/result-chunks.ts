/**
 * How results-queue jobs are named, for the fleet that adds them and the client that reads them.
 * One job carries a chunk of result messages. Its id is `results-<n>-<hash>`: the number of
 * results in it, and a hash of their idempotence keys, so publishing the same results again adds
 * nothing, and counting results needs the ids only. Its name is `results:<n>:<filter>`, with a
 * Bloom filter over the chunk's external ids (see id-filter.ts), so a producer waiting for some
 * ids skips, from the `added` event or one HGET, the jobs that cannot hold them.
 * Jobs of a fleet from before chunks (one result each, id `result-…`, named after the external id)
 * count as one result.
 */
import { createHash } from 'node:crypto';
import type { Queue } from 'bullmq';
import { idFilter, parseIdFilter } from './id-filter.ts';

const CHUNK_ID = /^results-(\d+)-[0-9a-f]+$/;
const CHUNK_NAME = /^results:(\d+):([A-Za-z0-9_-]+)$/;

/**
 * The idempotence key of one final result: the same final result always maps to the same key; a
 * later final result of the item (after a retry) to a new one.
 */
export function resultIdempotenceKey(row: { id: string; attempts: number; requeues: number }): string {
  return `result-${row.id}-${row.attempts}-${row.requeues}`;
}

/** The job id of a chunk: its size and a hash of its (sorted) idempotence keys. */
export function resultChunkId(idempotenceKeys: readonly string[]): string {
  const hash = createHash('sha256').update([...idempotenceKeys].sort().join('\n')).digest('hex').slice(0, 32);
  return `results-${idempotenceKeys.length}-${hash}`;
}

/** The job name of a chunk: its size and a filter over its external ids. */
export function resultChunkName(externalIds: readonly string[]): string {
  return `results:${externalIds.length}:${idFilter(externalIds)}`;
}

/** Whether a results-queue job id is a chunk's (not a per-result job of an earlier fleet). */
export function isResultChunkId(jobId: string): boolean {
  return CHUNK_ID.test(jobId);
}

/** Results in the job with this id: the chunk's size, or 1 for a per-result job of an earlier fleet. */
export function resultsInJob(jobId: string): number {
  const m = CHUNK_ID.exec(jobId);
  return m ? Number(m[1]) : 1;
}

/** The external-id filter of a chunk's job name; undefined when the name has none. */
export function chunkNameFilter(name: string): Uint8Array | undefined {
  const m = CHUNK_NAME.exec(name);
  return m ? parseIdFilter(m[2]!) : undefined;
}

/** The job states whose results `countResults` reports. */
export const RESULT_JOB_STATES = ['waiting', 'active', 'completed', 'failed', 'delayed'] as const;
export type ResultJobState = (typeof RESULT_JOB_STATES)[number];

/** Results (not jobs) on a results queue by job state, from the job ids alone: one command per state. */
export async function countResults(queue: Queue): Promise<Record<ResultJobState, number>> {
  const ids = await Promise.all(RESULT_JOB_STATES.map((state) => queue.getRanges([state], 0, -1)));
  const sum = (list: string[]) => list.reduce((a, id) => a + resultsInJob(id), 0);
  return Object.fromEntries(RESULT_JOB_STATES.map((state, i) => [state, sum(ids[i]!)])) as Record<ResultJobState, number>;
}
