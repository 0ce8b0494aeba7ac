import { describe, expect, it } from 'vitest';
import { advanceUntil, chatLines, createBatch, readResultFile, startTestSimulator, waitForStatus } from './helpers.ts';

const ZEROS = { input_tokens: 0, input_tokens_details: { cached_tokens: 0 }, output_tokens: 0, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 0, prompt_tokens: 0, completion_tokens: 0, prompt_tokens_details: null, completion_tokens_details: null };

describe('batch lifecycle', () => {
  it('goes validating -> in_progress -> finalizing -> completed on the simulated clock', async () => {
    const t = await startTestSimulator({ scenario: { timing: { validationSeconds: 60, secondsPerRequest: 10, minProcessingSeconds: 0, finalizingSeconds: 300 } } });
    const created = await createBatch(t.client, chatLines(10), { metadata: { job: 'j1' } });
    expect(created.status).toBe('validating');
    expect(created.model).toBeNull();
    expect(created.request_counts).toEqual({ total: 0, completed: 0, failed: 0 });
    // ASSUMED default (usage.whileRunning = 'zeros'): the usage object with zero counts until the end.
    expect(created.usage).toEqual(ZEROS);
    expect(created.metadata).toEqual({ job: 'j1' });
    expect(created.in_progress_at).toBeNull();

    // Frozen clock: it stays validating however long we wait in real time.
    await t.sim.idle();
    expect((await t.client.batches.retrieve(created.id)).status).toBe('validating');

    t.sim.clock.advance(60);
    const running = await waitForStatus(t.client, created.id, 'in_progress');
    expect(running.model).toBe('gpt-4o-mini-2024-07-18');
    expect(running.in_progress_at).toBe(created.created_at + 60);
    expect(running.request_counts).toEqual({ total: 10, completed: 0, failed: 0 });

    t.sim.clock.advance(50); // 5 of 10 requests at 10 s each
    const half = await t.client.batches.retrieve(created.id);
    expect(half.request_counts).toEqual({ total: 10, completed: 5, failed: 0 });
    expect(half.usage).toEqual(ZEROS);

    t.sim.clock.advance(50);
    const fin = await waitForStatus(t.client, created.id, 'finalizing');
    expect(fin.finalizing_at).toBe(created.created_at + 160);
    expect(fin.request_counts!.completed).toBe(10);

    t.sim.clock.advance(300);
    const done = await waitForStatus(t.client, created.id, 'completed');
    expect(done.completed_at).toBe(created.created_at + 460);
    expect(done.error_file_id).toBeNull();
    expect(done.request_counts).toEqual({ total: 10, completed: 10, failed: 0 });
    expect(done.usage?.input_tokens).toBeGreaterThan(0);
    expect(done.usage?.total_tokens).toBe((done.usage?.input_tokens ?? 0) + (done.usage?.output_tokens ?? 0));

    const out = await readResultFile(t, done.output_file_id!);
    expect(out.map((l) => l.custom_id).sort()).toEqual(chatLines(10).map((l) => l.custom_id).sort());
    const sumPrompt = out.reduce((a, l) => a + l.response!.body.usage.prompt_tokens, 0);
    const sumCompletion = out.reduce((a, l) => a + l.response!.body.usage.completion_tokens, 0);
    expect(done.usage?.input_tokens).toBe(sumPrompt);
    expect(done.usage?.output_tokens).toBe(sumCompletion);
    for (const l of out) {
      expect(l.error).toBeNull();
      expect(l.response!.status_code).toBe(200);
      expect(l.response!.body.model).toBe('gpt-4o-mini-2024-07-18');
      expect(l.response!.body.choices[0].finish_reason).toBe('stop');
      expect(typeof l.response!.body.choices[0].message.content).toBe('string');
    }
    const meta = await t.client.files.retrieve(done.output_file_id!);
    expect(meta.filename).toBe(`batch_${done.id}_output.jsonl`);
  });

  it('advances with a running clock (time scale) without anyone advancing it', async () => {
    const t = await startTestSimulator({ timeScale: 100_000 });
    const created = await createBatch(t.client, chatLines(3));
    const done = await waitForStatus(t.client, created.id, 'completed', 45_000);
    expect(done.request_counts).toEqual({ total: 3, completed: 3, failed: 0 });
  });

  it('uses advanceUntil helper', async () => {
    const t = await startTestSimulator();
    const created = await createBatch(t.client, chatLines(2));
    const done = await advanceUntil(t, created.id, 'completed');
    expect(done.output_file_id).toMatch(/^file-/);
  });
});
