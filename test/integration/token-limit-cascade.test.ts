import { afterEach, expect, it } from 'vitest';
import OpenAI, { toFile } from 'openai';
import { query } from '../../src/store/sql.ts';
import { sampleItems } from '../../src/demo/samples.ts';
import { startHarness, type TestHarness } from '../support/fleet.ts';
import { waitFor } from '../support/wait.ts';

let h: TestHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

it('when another client fills the enqueued-token limit, refused batches back off and resubmit the same file until all are in', async () => {
  const L = 15_000;
  // Simulated time runs at real speed until our first refusal is seen: the other service's batch
  // (10,000 s of processing) cannot end first however slowly our fleet gets there; then x1000.
  h = await startHarness({
    scenario: { name: 'shared-org', limits: { enqueuedTokens: { 'gpt-4o-mini': L } }, timing: { validationSeconds: 1, minProcessingSeconds: 10_000 } },
    simulator: { organization: 'org-shared', timeScale: 1 },
    env: { TOKEN_LIMITS: JSON.stringify({ 'gpt-4o-mini': L }) },
    roles: false,
  });
  // Another service of the same organisation holds most of the limit for a while.
  const other = new OpenAI({ apiKey: 'sk-other-service', baseURL: h.sim.url, maxRetries: 3 });
  const line = (i: number) => JSON.stringify({ custom_id: `o${i}`, method: 'POST', url: '/v1/chat/completions', body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'word '.repeat(1_000) }] } });
  const file = await other.files.create({ file: await toFile(Buffer.from(`${Array.from({ length: 9 }, (_, i) => line(i)).join('\n')}\n`), 'other.jsonl'), purpose: 'batch' });
  const theirs = await other.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
  await waitFor('the other batch in progress', async () => (await other.batches.retrieve(theirs.id)).status === 'in_progress');

  await h.startFleet();
  const items = sampleItems('c', 200).filter((i) => i.task === 'classify-ticket').map(({ externalId, input }) => ({ externalId, input }));
  await h.ctx.queues.intake.add('intake', { task: 'classify-ticket', items });
  await waitFor('a refusal for token_limit_exceeded', async () => {
    const [r] = await query<{ n: number }>(h!.ctx.db, 'select coalesce(sum(token_limit_failures), 0)::int as n from batches');
    return r!.n > 0;
  }, 120_000, 50);
  await other.batches.cancel(theirs.id);
  h.sim.clock.setTimeScale(1_000);

  await waitFor('every item final', async () => {
    const [r] = await query<{ n: number }>(h!.ctx.db, `select count(*)::int as n from items where status in ('succeeded', 'failed')`);
    return r!.n === items.length;
  }, 180_000);

  const [s] = await query<{ succeeded: number; ran: number; refusals: number; resubmitted: number }>(
    h.ctx.db,
    `select (select count(*)::int from items where status = 'succeeded') as succeeded,
            (select count(*)::int from attempts) as ran,
            (select sum(token_limit_failures)::int from batches) as refusals,
            (select count(*)::int from batches where cardinality(previous_provider_ids) > 0) as resubmitted`,
  );
  expect(s).toMatchObject({ succeeded: items.length, ran: items.length });
  expect(s!.refusals).toBeGreaterThan(0);
  expect(s!.resubmitted).toBeGreaterThan(0);
  const learned = await h.ctx.limits.view('gpt-4o-mini');
  expect(learned.learned).toBe(L);

  // The same uploaded file was resubmitted: one input file, several provider batches, one of them not failed.
  const ours = Object.values(h.sim.stats().clients).find((c) => c.batchesByMetadata.batchfleet_batch_id);
  const reused = Object.values(ours!.batchesByInputFile).filter((f) => f.count > 1);
  expect(reused.length).toBeGreaterThan(0);
}, 400_000);
