import { describe, expect, it } from 'vitest';
import { advanceUntil, chatLines, createBatch, fixture, readResultFile, startTestSimulator, waitForStatus } from './helpers.ts';

const EXPIRED_ERROR = JSON.parse(fixture('error.expired.guide.jsonl').split('\n')[0]!).error as { code: string; message: string };

describe('expiry (24 h window)', () => {
  it('an expiring batch keeps its finished requests and writes batch_expired lines for the rest', async () => {
    const t = await startTestSimulator({ scenario: { batchFaults: { expire: { rate: 1, completedFraction: 0.5 } }, lineFaults: { http500: 0 } } });
    const b = await createBatch(t.client, chatLines(10));
    const mid = await advanceUntil(t, b.id, 'in_progress');
    t.sim.clock.advance(12 * 3600);
    const half = await t.client.batches.retrieve(b.id);
    expect(half.status).toBe('in_progress');
    expect(half.request_counts!.completed).toBeGreaterThan(0);
    expect(half.request_counts!.completed).toBeLessThan(5);

    const expired = await advanceUntil(t, b.id, ['expired', 'completed'], 3600);
    expect(expired.status).toBe('expired');
    expect(expired.expired_at).toBe(expired.expires_at);
    expect(expired.finalizing_at).toBeNull();
    expect(expired.completed_at).toBeNull();
    expect(expired.in_progress_at).toBe(mid.in_progress_at);
    // expired requests do not count as failed (reference §2, warmbly PR#333)
    expect(expired.request_counts).toEqual({ total: 10, completed: 5, failed: 0 });
    expect(expired.usage?.input_tokens).toBeGreaterThan(0);

    const out = await readResultFile(t, expired.output_file_id!);
    expect(out).toHaveLength(5);
    const errs = await readResultFile(t, expired.error_file_id!);
    expect(errs).toHaveLength(5);
    for (const e of errs) {
      expect(e.response).toBeNull();
      expect(e.error).toEqual(EXPIRED_ERROR);
      expect(e.error).toEqual({ code: 'batch_expired', message: 'This request could not be executed before the completion window expired.' });
    }
    expect(new Set([...out, ...errs].map((l) => l.custom_id))).toEqual(new Set(chatLines(10).map((l) => l.custom_id as string)));
  });

  it('optionally passes through finalizing before expired', async () => {
    const t = await startTestSimulator({
      scenario: { batchFaults: { expire: { rate: 1, completedFraction: 0.3 }, expireViaFinalizing: true }, timing: { finalizingSeconds: 600 } },
    });
    const b = await createBatch(t.client, chatLines(10));
    const fin = await advanceUntil(t, b.id, ['finalizing'], 3600);
    expect(fin.finalizing_at).toBe(b.expires_at);
    expect(fin.request_counts).toEqual({ total: 10, completed: 3, failed: 0 });
    t.sim.clock.advance(600);
    const expired = await waitForStatus(t.client, b.id, 'expired');
    expect(expired.expired_at).toBe(b.expires_at! + 600);
    expect(expired.request_counts).toEqual({ total: 10, completed: 3, failed: 0 });
  });

  it('a batch with nothing done expires with no output file', async () => {
    const t = await startTestSimulator({ scenario: { batchFaults: { expire: { rate: 1, completedFraction: 0 } } } });
    const b = await createBatch(t.client, chatLines(4));
    const expired = await advanceUntil(t, b.id, ['expired', 'completed'], 3600);
    expect(expired.status).toBe('expired');
    expect(expired.output_file_id).toBeNull();
    expect(expired.request_counts).toEqual({ total: 4, completed: 0, failed: 0 });
    expect(await readResultFile(t, expired.error_file_id!)).toHaveLength(4);
  });

  it('a batch too big for the window expires on its own; one stuck in validating expires too', async () => {
    const t = await startTestSimulator({ scenario: { timing: { secondsPerRequest: 20_000 } } });
    const slow = await createBatch(t.client, chatLines(8));
    const expired = await advanceUntil(t, slow.id, ['expired', 'completed'], 3600);
    expect(expired.status).toBe('expired');
    expect(expired.request_counts!.completed).toBe(4);

    const t2 = await startTestSimulator({ scenario: { batchFaults: { stuckValidating: { rate: 1, seconds: 100_000 } } } });
    const stuck = await createBatch(t2.client, chatLines(3));
    t2.sim.clock.advance(86_399);
    expect((await t2.client.batches.retrieve(stuck.id)).status).toBe('validating');
    const e2 = await advanceUntil(t2, stuck.id, ['expired', 'in_progress'], 60);
    expect(e2.status).toBe('expired');
    expect(e2.in_progress_at).toBeNull();
    expect(e2.output_file_id).toBeNull();
    expect(await readResultFile(t2, e2.error_file_id!)).toHaveLength(3);
  });
});
