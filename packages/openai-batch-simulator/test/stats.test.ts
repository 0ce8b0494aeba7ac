import { describe, expect, it } from 'vitest';
import { clientIdForKey, type SimulatorStats } from '../src/index.ts';
import { advanceUntil, chatLines, createBatch, jsonl, runBatch, startTestSimulator, uploadBatchFile } from './helpers.ts';

describe('inspection', () => {
  it('reports per client what was created, by metadata and by input file, without the key', async () => {
    const t = await startTestSimulator();
    const me = clientIdForKey(t.apiKey);
    const file = await uploadBatchFile(t.client, jsonl(chatLines(3)));
    const mk = (tag: string) => t.client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { batchfleet_id: tag } });
    const b1 = await mk('bf-1');
    const b2 = await mk('bf-2');
    const b3 = await mk('bf-2'); // submitted twice: the stats must show it
    for (const b of [b1, b2, b3]) await advanceUntil(t, b.id, 'completed');
    await runBatch(t, chatLines(2, 'other'));

    const res = await fetch(`${t.sim.url.replace(/\/v1$/, '')}/_simulator/stats`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain(t.apiKey);
    const stats = JSON.parse(text) as SimulatorStats;
    expect(stats).toEqual(t.sim.stats());
    expect(stats.scenario).toBe('happy');
    const c = stats.clients[me]!;
    expect(c.client).toBe(me);
    expect(c.organization).toMatch(/^org-[A-Za-z0-9]{24}$/);
    expect(c.filesCreated).toBe(2);
    expect(c.batchesCreated).toBe(4);
    expect(c.batchesByStatus).toEqual({ completed: 4 });
    expect(c.batchesByMetadata.batchfleet_id).toEqual({
      'bf-1': { count: 1, batchIds: [b1.id] },
      'bf-2': { count: 2, batchIds: [b2.id, b3.id] },
    });
    expect(c.batchesByInputFile[file.id]).toEqual({ count: 3, batchIds: [b1.id, b2.id, b3.id] });
    expect(c.duplicateInputFiles).toEqual([file.id]);
    expect(c.customIds).toEqual({ submitted: 11, distinct: 5, resubmitted: 3, succeededMoreThanOnce: 3, succeededMoreThanOnceSample: ['req-0', 'req-1', 'req-2'] });
    expect(c.enqueuedTokens).toEqual({});
    expect(stats.totals).toMatchObject({ filesCreated: 2, batchesCreated: 4 }); // uploads only, not result files
  });

  it('advance, clock and reset endpoints', async () => {
    const t = await startTestSimulator();
    const base = t.sim.url.replace(/\/v1$/, '');
    const before = ((await (await fetch(`${base}/_simulator/clock`)).json()) as { now: number }).now;
    const b = await createBatch(t.client, chatLines(1));
    await t.sim.idle();
    const adv = await fetch(`${base}/_simulator/advance`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ seconds: 3600 }) });
    expect(((await adv.json()) as { now: number }).now).toBe(before + 3600);
    expect((await advanceUntil(t, b.id, 'completed')).status).toBe('completed');
    expect((await fetch(`${base}/_simulator/reset`, { method: 'POST' })).status).toBe(200);
    expect(t.sim.stats().clients).toEqual({});
    expect((await t.client.batches.list()).data).toEqual([]);
    await expect(t.client.files.retrieve(b.input_file_id)).rejects.toMatchObject({ status: 404 });
  });
});
