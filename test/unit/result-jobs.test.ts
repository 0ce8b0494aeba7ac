import { describe, expect, it } from 'vitest';
import { holdKind, holdNoticeEntry, holdNoticeSchema } from '../../src/queues/notices.ts';
import { idFilterBytes, idProbe, mayContain } from '../../src/queues/id-filter.ts';
import { resultChunkSchema, resultMessageSchema } from '../../src/queues/payloads.ts';
import { chunkNameFilter, isResultChunkId, resultChunkId, resultChunkName, resultsInJob } from '../../src/queues/result-chunks.ts';
import { resultJobs, resultMemoryBound, hooksEnabled, type CommittedResult } from '../../src/queues/result-jobs.ts';
import { DEFAULT_DELIVERY, resolveDelivery } from '../../src/tasks/contract.ts';
import { TaskDefinitionError } from '../../src/errors.ts';

function row(over: Partial<CommittedResult> = {}): CommittedResult {
  return {
    id: '00000000-0000-4000-8000-000000000001', external_id: 'ext-1', status: 'succeeded', output: { category: 'bug' },
    error_code: null, error_message: null, attempts: 1, requeues: 0, input_tokens: 120, cached_tokens: 0, output_tokens: 30,
    cost_usd: 0.000123, finished_at: new Date('2026-12-01T00:00:00Z'), history: null, ...over,
  };
}

const uuid = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

describe('result jobs from committed rows', () => {
  it('carries output, usage and cost in a chunk job, with the idempotence key per message and the default retention', () => {
    const jobs = resultJobs({ name: 'classify-ticket' }, [row(), row({ id: 'x', status: 'queued' })]);
    expect(jobs).toHaveLength(1); // only final results are announced
    const [job] = jobs;
    const chunk = resultChunkSchema.parse(job!.data);
    expect(chunk).toMatchObject({ v: 1, kind: 'results' });
    expect(chunk.results).toHaveLength(1);
    expect(job!.opts).toMatchObject({
      jobId: resultChunkId(['result-00000000-0000-4000-8000-000000000001-1-0']),
      attempts: DEFAULT_DELIVERY.maxDeliveries,
      removeOnComplete: { age: 3_600, count: 10 },
      removeOnFail: { age: 7 * 24 * 3_600, count: 10 },
    });
    expect(job!.opts.jobId).toMatch(/^results-1-[0-9a-f]{32}$/);
    expect(resultsInJob(job!.opts.jobId)).toBe(1);
    expect(resultMessageSchema.parse(chunk.results[0])).toMatchObject({
      idempotenceKey: 'result-00000000-0000-4000-8000-000000000001-1-0', externalId: 'ext-1',
      payload: 'full', status: 'succeeded', output: { category: 'bug' }, costUsd: 0.000123,
      usage: { inputTokens: 120, cachedTokens: 0, outputTokens: 30 }, finishedAt: '2026-12-01T00:00:00.000Z',
    });
  });

  it('gives a failure its reason and attempt history, and a new key (and job id) to a later final result of the same item', () => {
    const history = [
      { batchId: 'b1', outcome: 'retry', errorCode: 'not_json', errorMessage: 'no', inputTokens: 10, outputTokens: 2, costUsd: '0.1', at: '2026-12-01T00:00:00Z' },
      { batchId: 'b2', outcome: 'failed', errorCode: 'not_json', errorMessage: 'no', inputTokens: 10, outputTokens: 2, costUsd: 0.1, at: '2026-12-01T00:01:00Z' },
    ];
    const failed = row({ status: 'failed', output: null, error_code: 'not_json', error_message: 'gave up', attempts: 2, history });
    const [job] = resultJobs({ name: 't' }, [failed]);
    const [message] = job!.data.results;
    expect(message!.error).toEqual({ code: 'not_json', message: 'gave up' });
    expect(message!.history!.map((a) => a.outcome)).toEqual(['retry', 'failed']);
    expect(message!.history![0]!.costUsd).toBe(0.1);
    expect(message).not.toHaveProperty('output');
    const [again] = resultJobs({ name: 't' }, [{ ...failed, status: 'succeeded', attempts: 3 }]);
    expect(again!.data.results[0]!.idempotenceKey).not.toBe(message!.idempotenceKey);
    expect(again!.opts.jobId).not.toBe(job!.opts.jobId);
  });

  it('sends ids only when asked, when the output is too large, and nothing when the queue channel is off', () => {
    const [ids] = resultJobs({ name: 't', delivery: { payload: 'ids' } }, [row()]);
    expect(ids!.data.results[0]).toMatchObject({ payload: 'ids', status: 'succeeded', externalId: 'ext-1' });
    expect(ids!.data.results[0]).not.toHaveProperty('output');
    const [big] = resultJobs({ name: 't' }, [row({ output: { text: 'x'.repeat(10_000) } }), row({ id: uuid(2), external_id: 'ext-2' })]);
    expect(big!.data.results.map((m) => [m.externalId, m.payload, m.outputOmitted])).toEqual([
      ['ext-1', 'ids', 'too_large'],
      ['ext-2', 'full', undefined],
    ]);
    expect(resultJobs({ name: 't', delivery: { channels: ['hook'] } }, [row()])).toEqual([]);
    expect(hooksEnabled({ name: 't', delivery: { channels: ['queue'] } })).toBe(false);
    expect(hooksEnabled({ name: 't' })).toBe(true);
  });

  it('cuts a chunk into jobs of at most maxJobResults messages, ordered by key, with the same ids whatever the row order', () => {
    const rows = Array.from({ length: 2_500 }, (_, i) => row({ id: uuid(i), external_id: `ext-${i}` }));
    const jobs = resultJobs({ name: 't' }, rows);
    expect(jobs.map((j) => j.data.results.length)).toEqual([1_000, 1_000, 500]);
    const keys = jobs.flatMap((j) => j.data.results.map((m) => m.idempotenceKey));
    expect(keys).toEqual([...keys].sort());
    expect(new Set(keys).size).toBe(2_500);
    for (const job of jobs) {
      expect(job.opts.jobId).toBe(resultChunkId(job.data.results.map((m) => m.idempotenceKey)));
      expect(resultsInJob(job.opts.jobId)).toBe(job.data.results.length);
      expect(isResultChunkId(job.opts.jobId)).toBe(true);
      expect(job.name).toBe(resultChunkName(job.data.results.map((m) => m.externalId)));
    }
    const shuffled = [...rows].sort((a, b) => (a.external_id.length - b.external_id.length) || (b.id < a.id ? -1 : 1));
    const again = resultJobs({ name: 't' }, shuffled);
    expect(again.map((j) => j.opts.jobId)).toEqual(jobs.map((j) => j.opts.jobId));
    expect(again.map((j) => j.data)).toEqual(jobs.map((j) => j.data));
    // One result more is another chunk: a new job id.
    const more = resultJobs({ name: 't' }, [...rows.slice(0, 999), row({ id: uuid(9_999), external_id: 'ext-x' })]);
    expect(more[0]!.opts.jobId).not.toBe(resultJobs({ name: 't' }, rows.slice(0, 1_000))[0]!.opts.jobId);
  });

  it('cuts at maxJobBytes too, and puts a message larger than the cap in a job of its own', () => {
    const rows = Array.from({ length: 10 }, (_, i) => row({ id: uuid(i), external_id: `ext-${i}`, output: { text: 'y'.repeat(300) } }));
    const delivery = { maxJobBytes: 1_500, maxPayloadBytes: 4_000 };
    const jobs = resultJobs({ name: 't', delivery }, rows);
    expect(jobs.length).toBeGreaterThan(3);
    for (const job of jobs) expect(Buffer.byteLength(JSON.stringify(job.data))).toBeLessThanOrEqual(1_500);
    expect(jobs.reduce((n, j) => n + j.data.results.length, 0)).toBe(10);
    const huge = resultJobs({ name: 't', delivery }, [...rows.slice(0, 2), row({ id: uuid(1_000), external_id: 'big', output: { text: 'z'.repeat(3_000) } })]);
    const alone = huge.find((j) => j.data.results.some((m) => m.externalId === 'big'))!;
    expect(alone.data.results).toHaveLength(1);
    expect(huge.reduce((n, j) => n + j.data.results.length, 0)).toBe(3);
  });

  it('names each job with a filter that holds every external id of it and few others', () => {
    const ids = Array.from({ length: 1_000 }, (_, i) => `order-${i}-${i * 7919}`);
    const filter = chunkNameFilter(resultChunkName(ids))!;
    expect(filter.length).toBe(idFilterBytes(1_000));
    for (const id of ids) expect(mayContain(filter, idProbe(id))).toBe(true);
    const strangers = Array.from({ length: 5_000 }, (_, i) => `stranger-${i}`).filter((id) => mayContain(filter, idProbe(id)));
    expect(strangers.length).toBeLessThan(250); // about 2% false positives at the filter's size cap
    const small = chunkNameFilter(resultChunkName(['a', 'b']))!;
    expect(mayContain(small, idProbe('a')) && mayContain(small, idProbe('b'))).toBe(true);
    expect(chunkNameFilter('ext-1')).toBeUndefined(); // a per-result job of an earlier fleet, named after its external id
    expect(resultsInJob('result-00000000-0000-4000-8000-000000000001-1-0')).toBe(1);
    expect(isResultChunkId('result-00000000-0000-4000-8000-000000000001-1-0')).toBe(false);
  });

  it('bounds Redis by the retention settings, and names a bad delivery field', () => {
    // 10,000 waiting results (at worst one per job), 20 full finished jobs, the event stream; job data
    // rounded up by the allocator (x1.25), each job's overhead and name (its filter).
    const oneResultJob = (8_193 + 37) * 1.25 + 1_536 + 21;
    const fullJob = (1_048_576 + 37) * 1.25 + 1_536 + 1_379;
    const events = 10_100 * (192 + 1_379);
    expect(resultMemoryBound(DEFAULT_DELIVERY)).toBe(Math.ceil(10_000 * oneResultJob + 20 * fullJob + events));
    const small = resolveDelivery({ name: 't', delivery: { maxPayloadBytes: 1_000, retention: { maxWaiting: 100, completed: { count: 1 }, failed: { count: 1 } } } });
    expect(resultMemoryBound(small)).toBeLessThan(resultMemoryBound(DEFAULT_DELIVERY));
    expect(resultMemoryBound({ ...small, retention: { ...small.retention, maxWaiting: 200 } })).toBeGreaterThan(resultMemoryBound(small));
    expect(resolveDelivery({ name: 't', delivery: { retention: { completed: { count: 5 } } } }).retention.completed).toEqual({ age: 3_600, count: 5 });
    expect(() => resolveDelivery({ name: 't', delivery: { retention: { maxWaiting: 0 } } })).toThrow(TaskDefinitionError);
    expect(() => resolveDelivery({ name: 't', delivery: { retention: { maxWaiting: 0 } } })).toThrow(/delivery\.retention\.maxWaiting/);
    expect(() => resolveDelivery({ name: 't', delivery: { maxJobBytes: 0.5 } })).toThrow(/delivery\.maxJobBytes/);
    expect(() => resolveDelivery({ name: 't', delivery: { maxJobResults: -1 } })).toThrow(/delivery\.maxJobResults/);
    expect(() => resolveDelivery({ name: 't', delivery: { channels: ['mail' as 'queue'] } })).toThrow(/delivery\.channels/);
  });
});

describe('hold notices', () => {
  it('classifies the submit gate reasons and expires on their own', () => {
    expect(holdKind('daily spend cap reached: $12.0000 of $10')).toBe('spend_cap');
    expect(holdKind('token budget for gpt-4o-mini: needs 900, 100 of 1000 reserved')).toBe('budget');
    expect(holdKind('provider rate limit (429)')).toBe('provider_limit');
    const now = new Date('2026-12-01T00:00:00Z');
    const entry = holdNoticeEntry('p', { task: 't', reason: 'daily spend cap reached', retryInMs: 15_000, batchId: 'b' }, now);
    expect(entry.key).toBe('p:bf:held:t');
    expect(entry.ttlMs).toBe(60_000);
    expect(holdNoticeSchema.parse(JSON.parse(entry.value))).toMatchObject({ kind: 'spend_cap', retryAt: '2026-12-01T00:00:15.000Z', batchId: 'b' });
  });
});
