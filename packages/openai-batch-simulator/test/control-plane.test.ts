import OpenAI, { APIError } from 'openai';
import { describe, expect, it } from 'vitest';
import { clientIdForKey } from '../src/index.ts';
import { advanceUntil, chatLines, createBatch, jsonl, startTestSimulator, uploadBatchFile, waitForStatus } from './helpers.ts';

describe('control-plane faults', () => {
  it('429 with retry-after and retry-after-ms', async () => {
    const t = await startTestSimulator({ scenario: { httpFaults: { rate429: 1, retryAfterSeconds: 7 } } });
    const err = (await t.client.batches.list().catch((e: unknown) => e)) as APIError;
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.status).toBe(429);
    expect(err.headers?.get('retry-after')).toBe('7');
    expect(err.headers?.get('retry-after-ms')).toBe('7000');
    expect(err.code).toBe('rate_limit_exceeded');
    expect(t.sim.stats().clients[clientIdForKey(t.apiKey)]?.faults).toEqual({ http_429: 1 });
  });

  it('500 and 503', async () => {
    const t500 = await startTestSimulator({ scenario: { httpFaults: { rate500: 1 } } });
    const e500 = (await t500.client.files.list().catch((e: unknown) => e)) as APIError;
    expect(e500).toBeInstanceOf(OpenAI.InternalServerError);
    expect(e500.status).toBe(500);
    expect(e500.type).toBe('server_error');
    const t503 = await startTestSimulator({ scenario: { httpFaults: { rate503: 1 } } });
    const e503 = (await t503.client.batches.retrieve('batch_x').catch((e: unknown) => e)) as APIError;
    expect(e503.status).toBe(503);
  });

  it('the SDK retries through a flaky control plane', async () => {
    const t = await startTestSimulator({ scenario: { seed: 3, httpFaults: { rate500: 0.15, rate503: 0.1 } } });
    const client = new OpenAI({ apiKey: 'sk-test-retry', baseURL: t.sim.url, maxRetries: 8 });
    for (let i = 0; i < 5; i++) await client.files.list();
    const faults = t.sim.stats().totals.faults;
    expect((faults.http_500 ?? 0) + (faults.http_503 ?? 0)).toBeGreaterThan(0);
  });

  it('slow responses', async () => {
    const t = await startTestSimulator({ scenario: { httpFaults: { slowRate: 1, slowMs: 300 } } });
    const started = performance.now();
    await t.client.batches.list();
    expect(t.sim.stats().totals.faults.http_slow).toBe(1);
    // A lower bound only (the answer waited for the fault's timer): load makes it later, never earlier.
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('a file is briefly not found right after upload (retrieve, content, batch create)', async () => {
    const t = await startTestSimulator({ scenario: { consistency: { fileNotFoundAfterUpload: { rate: 1, seconds: 30 } } } });
    const f = await uploadBatchFile(t.client, jsonl(chatLines(1)));
    await expect(t.client.files.retrieve(f.id)).rejects.toMatchObject({ status: 404, error: { message: `No such File object: ${f.id}` } });
    await expect(t.client.files.content(f.id)).rejects.toMatchObject({ status: 404 });
    await expect(t.client.batches.create({ input_file_id: f.id, endpoint: '/v1/chat/completions', completion_window: '24h' })).rejects.toMatchObject({ status: 404, param: 'input_file_id' });
    t.sim.clock.advance(30);
    expect((await t.client.files.retrieve(f.id)).id).toBe(f.id);
    const b = await t.client.batches.create({ input_file_id: f.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    expect(b.status).toBe('validating');
  });

  it('a batch is briefly not found right after create (retrieve, cancel), but it exists', async () => {
    const t = await startTestSimulator({ scenario: { consistency: { batchNotFoundAfterCreate: { rate: 1, seconds: 20 } } } });
    const b = await createBatch(t.client, chatLines(1));
    await expect(t.client.batches.retrieve(b.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(t.client.batches.cancel(b.id)).rejects.toMatchObject({ status: 404 });
    expect((await t.client.batches.list()).data.map((x) => x.id)).toEqual([b.id]);
    t.sim.clock.advance(20);
    expect((await t.client.batches.retrieve(b.id)).id).toBe(b.id);
  });

  it('lost create responses: the object exists although the client saw an error', async () => {
    const t = await startTestSimulator({ scenario: { httpFaults: { lostCreateRate: 1, lostCreateMode: 'reset' } } });
    const err = await uploadBatchFile(t.client, jsonl(chatLines(1))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIConnectionError);
    const [file] = (await t.client.files.list()).data;
    expect(file).toBeDefined();
    const e2 = await t.client.batches.create({ input_file_id: file!.id, endpoint: '/v1/chat/completions', completion_window: '24h' }).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(OpenAI.APIConnectionError);
    expect((await t.client.batches.list()).data).toHaveLength(1);
    const stats = t.sim.stats().clients[clientIdForKey(t.apiKey)]!;
    expect(stats.faults.lost_create_response).toBe(2);
    expect(stats.batchesCreated).toBe(1);

    const t500 = await startTestSimulator({ scenario: { httpFaults: { lostCreateRate: 1, lostCreateMode: '500' } } });
    await expect(uploadBatchFile(t500.client, jsonl(chatLines(1)))).rejects.toMatchObject({ status: 500 });
    expect((await t500.client.files.list()).data).toHaveLength(1);
  });

  it('batches stuck in validating and in finalizing', async () => {
    const t = await startTestSimulator({
      scenario: {
        timing: { validationSeconds: 60, finalizingSeconds: 60 },
        batchFaults: { stuckValidating: { rate: 1, seconds: 7200 }, stuckFinalizing: { rate: 1, seconds: 7200 } },
      },
    });
    const b = await createBatch(t.client, chatLines(2));
    await t.sim.idle();
    t.sim.clock.advance(7200);
    expect((await t.client.batches.retrieve(b.id)).status).toBe('validating');
    t.sim.clock.advance(60);
    await waitForStatus(t.client, b.id, 'in_progress');
    const fin = await advanceUntil(t, b.id, 'finalizing', 60);
    t.sim.clock.advance(7200);
    expect((await t.client.batches.retrieve(b.id)).status).toBe('finalizing');
    t.sim.clock.advance(60);
    const done = await waitForStatus(t.client, b.id, 'completed');
    expect(done.completed_at).toBe(fin.finalizing_at! + 7260);
    const faults = t.sim.stats().clients[clientIdForKey(t.apiKey)]!.faults;
    expect(faults).toMatchObject({ stuck_validating: 1, stuck_finalizing: 1 });
  });
});
