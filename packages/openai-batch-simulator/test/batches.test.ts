import OpenAI, { APIError, toFile } from 'openai';
import { describe, expect, it } from 'vitest';
import {
  advanceUntil,
  chatLines,
  createBatch,
  jsonl,
  readResultFile,
  startTestSimulator,
  uploadBatchFile,
  waitForStatus,
} from './helpers.ts';

describe('batches API', () => {
  it('lists newest first with after/limit/has_more and auto-pagination', async () => {
    const t = await startTestSimulator();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await createBatch(t.client, chatLines(1, `b${i}`), { metadata: { n: String(i) } })).id);
      t.sim.clock.advance(1);
    }
    const newestFirst = ids.slice().reverse();
    const page = await t.client.batches.list({ limit: 2 });
    expect(page.data.map((b) => b.id)).toEqual(newestFirst.slice(0, 2));
    expect(page.has_more).toBe(true);
    const next = await t.client.batches.list({ limit: 2, after: page.data[1]!.id });
    expect(next.data.map((b) => b.id)).toEqual(newestFirst.slice(2, 4));

    const all: string[] = [];
    for await (const b of t.client.batches.list({ limit: 2 })) all.push(b.id);
    expect(all).toEqual(newestFirst);

    const last = await t.client.batches.list({ after: newestFirst[4] });
    expect(last.data).toEqual([]);
    expect(last.has_more).toBe(false);
    await expect(t.client.batches.list({ limit: 101 })).rejects.toMatchObject({ status: 400, code: 'integer_above_max_value' });
    expect((await t.newClient().batches.list()).data).toEqual([]);
  });

  it('answers 404 for unknown batches and files, 400 for bad create parameters', async () => {
    const t = await startTestSimulator();
    await expect(t.client.batches.retrieve('batch_00000000000000000000000000000000')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(t.client.batches.cancel('batch_00000000000000000000000000000000')).rejects.toMatchObject({ status: 404 });
    await expect(
      t.client.batches.create({ input_file_id: 'file-doesnotexist0000000', endpoint: '/v1/chat/completions', completion_window: '24h' }),
    ).rejects.toMatchObject({ status: 404, param: 'input_file_id' });

    const f = await uploadBatchFile(t.client, jsonl(chatLines(1)));
    const bad = (body: Record<string, unknown>) => t.client.batches.create(body as never);
    await expect(bad({ endpoint: '/v1/chat/completions', completion_window: '24h' })).rejects.toMatchObject({ status: 400, param: 'input_file_id', code: 'missing_required_parameter' });
    await expect(bad({ input_file_id: f.id, endpoint: '/v1/nope', completion_window: '24h' })).rejects.toMatchObject({ status: 400, param: 'endpoint' });
    await expect(bad({ input_file_id: f.id, endpoint: '/v1/chat/completions', completion_window: '48h' })).rejects.toMatchObject({ status: 400, param: 'completion_window' });
    await expect(
      bad({ input_file_id: f.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) }),
    ).rejects.toMatchObject({ status: 400, param: 'metadata' });
    await expect(
      bad({ input_file_id: f.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { k: 'x'.repeat(513) } }),
    ).rejects.toMatchObject({ status: 400 });
    const notBatch = await t.client.files.create({ file: await toFile(Buffer.from('x'), 'x.txt'), purpose: 'user_data' });
    await expect(bad({ input_file_id: notBatch.id, endpoint: '/v1/chat/completions', completion_window: '24h' })).rejects.toMatchObject({ status: 400 });
    const res = await fetch(`${t.sim.url}/batches`, { method: 'POST', headers: { authorization: `Bearer ${t.apiKey}`, 'content-type': 'application/json' }, body: '{nope' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/^We could not parse the JSON body/);
  });

  it('honours output_expires_after on result files', async () => {
    const t = await startTestSimulator();
    const f = await uploadBatchFile(t.client, jsonl(chatLines(2)));
    const b = await t.client.batches.create({
      input_file_id: f.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      output_expires_after: { anchor: 'created_at', seconds: 3600 },
    });
    const done = await advanceUntil(t, b.id, 'completed');
    const out = await t.client.files.retrieve(done.output_file_id!);
    expect(out.expires_at).toBe(out.created_at + 3600);
  });

  it('cancels an in-progress batch: cancelling, then cancelled with partial results', async () => {
    const t = await startTestSimulator({ scenario: { timing: { validationSeconds: 10, secondsPerRequest: 10, minProcessingSeconds: 0, cancellingSeconds: 120 } } });
    const b = await createBatch(t.client, chatLines(10));
    t.sim.clock.advance(10);
    await waitForStatus(t.client, b.id, 'in_progress');
    t.sim.clock.advance(40); // 4 of 10 done
    const cancelling = await t.client.batches.cancel(b.id);
    expect(cancelling.status).toBe('cancelling');
    expect(cancelling.cancelling_at).toBe(b.created_at + 50);
    expect(cancelling.request_counts).toEqual({ total: 10, completed: 4, failed: 0 });
    // cancelling again returns it unchanged
    expect((await t.client.batches.cancel(b.id)).status).toBe('cancelling');
    t.sim.clock.advance(60);
    expect((await t.client.batches.retrieve(b.id)).status).toBe('cancelling');
    t.sim.clock.advance(60);
    const done = await waitForStatus(t.client, b.id, 'cancelled');
    expect(done.cancelled_at).toBe(b.created_at + 170);
    expect(done.request_counts).toEqual({ total: 10, completed: 4, failed: 0 });
    expect(done.usage?.input_tokens).toBeGreaterThan(0);
    const out = await readResultFile(t, done.output_file_id!);
    expect(out).toHaveLength(4);
    const errs = await readResultFile(t, done.error_file_id!);
    expect(errs).toHaveLength(6);
    for (const e of errs) {
      expect(e.response).toBeNull();
      expect(e.error).toEqual({ code: 'batch_cancelled', message: 'This request could not be executed because the batch was cancelled.' });
    }
    expect(new Set([...out, ...errs].map((l) => l.custom_id)).size).toBe(10);

    await expect(t.client.batches.cancel(b.id)).rejects.toMatchObject({ status: 400, message: expect.stringContaining("Cannot cancel a batch with status 'cancelled'") });
  });

  it('cancels a validating batch (no output) and can leave unrun requests out of the error file', async () => {
    const t = await startTestSimulator({ scenario: { cancel: { unrunRequestsInErrorFile: false } } });
    const b = await createBatch(t.client, chatLines(3));
    await t.sim.idle();
    const c = await t.client.batches.cancel(b.id);
    expect(c.status).toBe('cancelling');
    expect(c.in_progress_at).toBeNull();
    const done = await advanceUntil(t, b.id, 'cancelled');
    expect(done.output_file_id).toBeNull();
    expect(done.error_file_id).toBeNull();
    expect(done.request_counts).toEqual({ total: 3, completed: 0, failed: 0 });
  });

  it('cancelling a completed batch is a 400', async () => {
    const t = await startTestSimulator();
    const b = await createBatch(t.client, chatLines(1));
    await advanceUntil(t, b.id, 'completed');
    const err = await t.client.batches.cancel(b.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as APIError).message).toMatch(/Cannot cancel a batch with status 'completed'/);
  });

  it('keeps running a batch whose input file was deleted', async () => {
    const t = await startTestSimulator();
    const b = await createBatch(t.client, chatLines(3));
    await t.client.files.delete(b.input_file_id);
    const done = await advanceUntil(t, b.id, 'completed');
    expect(done.request_counts!.completed).toBe(3);
  });
});
