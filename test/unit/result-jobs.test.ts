import { describe, expect, it } from 'vitest';
import { holdKind, holdNoticeEntry, holdNoticeSchema } from '../../src/queues/notices.ts';
import { resultMessageSchema } from '../../src/queues/payloads.ts';
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

describe('result jobs from committed rows', () => {
  it('carries output, usage and cost, with the idempotence key as job id and the default retention', () => {
    const [job, ...rest] = resultJobs({ name: 'classify-ticket' }, [row(), row({ id: 'x', status: 'queued' })]);
    expect(rest).toHaveLength(0); // only final results are announced
    expect(job!.name).toBe('ext-1');
    expect(job!.opts).toMatchObject({
      jobId: 'result-00000000-0000-4000-8000-000000000001-1-0',
      attempts: DEFAULT_DELIVERY.maxDeliveries,
      removeOnComplete: { age: 3_600, count: 1_000 },
      removeOnFail: { age: 7 * 24 * 3_600, count: 1_000 },
    });
    expect(resultMessageSchema.parse(job!.data)).toMatchObject({
      payload: 'full', status: 'succeeded', output: { category: 'bug' }, costUsd: 0.000123,
      usage: { inputTokens: 120, cachedTokens: 0, outputTokens: 30 }, finishedAt: '2026-12-01T00:00:00.000Z',
    });
  });

  it('gives a failure its reason and attempt history, and a new key to a later final result of the same item', () => {
    const history = [
      { batchId: 'b1', outcome: 'retry', errorCode: 'not_json', errorMessage: 'no', inputTokens: 10, outputTokens: 2, costUsd: '0.1', at: '2026-12-01T00:00:00Z' },
      { batchId: 'b2', outcome: 'failed', errorCode: 'not_json', errorMessage: 'no', inputTokens: 10, outputTokens: 2, costUsd: 0.1, at: '2026-12-01T00:01:00Z' },
    ];
    const failed = row({ status: 'failed', output: null, error_code: 'not_json', error_message: 'gave up', attempts: 2, history });
    const [job] = resultJobs({ name: 't' }, [failed]);
    expect(job!.data.error).toEqual({ code: 'not_json', message: 'gave up' });
    expect(job!.data.history!.map((a) => a.outcome)).toEqual(['retry', 'failed']);
    expect(job!.data.history![0]!.costUsd).toBe(0.1);
    expect(job!.data).not.toHaveProperty('output');
    const [again] = resultJobs({ name: 't' }, [{ ...failed, status: 'succeeded', attempts: 3 }]);
    expect(again!.opts.jobId).not.toBe(job!.opts.jobId);
  });

  it('sends ids only when asked, when the output is too large, and nothing when the queue channel is off', () => {
    const [ids] = resultJobs({ name: 't', delivery: { payload: 'ids' } }, [row()]);
    expect(ids!.data).toMatchObject({ payload: 'ids', status: 'succeeded', externalId: 'ext-1' });
    expect(ids!.data).not.toHaveProperty('output');
    const [big] = resultJobs({ name: 't' }, [row({ output: { text: 'x'.repeat(10_000) } })]);
    expect(big!.data).toMatchObject({ payload: 'ids', outputOmitted: 'too_large' });
    expect(resultJobs({ name: 't', delivery: { channels: ['hook'] } }, [row()])).toEqual([]);
    expect(hooksEnabled({ name: 't', delivery: { channels: ['queue'] } })).toBe(false);
    expect(hooksEnabled({ name: 't' })).toBe(true);
  });

  it('bounds Redis by the retention settings, and names a bad delivery field', () => {
    expect(resultMemoryBound(DEFAULT_DELIVERY)).toBe(12_000 * (8_192 + 1_536));
    expect(resolveDelivery({ name: 't', delivery: { retention: { completed: { count: 5 } } } }).retention.completed).toEqual({ age: 3_600, count: 5 });
    expect(() => resolveDelivery({ name: 't', delivery: { retention: { maxWaiting: 0 } } })).toThrow(TaskDefinitionError);
    expect(() => resolveDelivery({ name: 't', delivery: { retention: { maxWaiting: 0 } } })).toThrow(/delivery\.retention\.maxWaiting/);
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
