/**
 * Submission moves the batch, not its items: the rows stay `batched`, and every reader shows them
 * as `submitted` once their batch is at the provider.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleItems } from '../../src/demo/samples.ts';
import { build } from '../../src/pipeline/build.ts';
import { intake } from '../../src/pipeline/intake.ts';
import { submit } from '../../src/pipeline/submit.ts';
import { findBatch, findItem, itemCounts, listItems } from '../../src/store/read-models/index.ts';
import { query } from '../../src/store/sql.ts';
import { startHarness, type TestHarness } from '../support/fleet.ts';

let h: TestHarness;
beforeAll(async () => {
  // The provider keeps the batch in progress for the whole test.
  h = await startHarness({ roles: false, scenario: { name: 'slow-views', timing: { validationSeconds: 1, minProcessingSeconds: 10_000_000 } } });
});
afterAll(async () => {
  await h?.close();
});

const countOf = async (status: string) =>
  (await itemCounts(h.ctx.db)).filter((r) => r.task === 'classify-ticket' && r.status === status).reduce((n, r) => n + r.count, 0);

describe('what readers show for the items of a batch', () => {
  it('shows built items as batched, and as submitted once the provider accepted their batch, without rewriting them', async () => {
    const items = sampleItems('views', 24).filter((i) => i.task === 'classify-ticket');
    await intake(h.ctx, { task: 'classify-ticket', items: items.map(({ externalId, input }) => ({ externalId, input })) });
    const { batches: built } = await build(h.ctx, 'classify-ticket');
    expect(built).toHaveLength(1);
    const batchId = built[0]!;
    const one = { task: 'classify-ticket', externalId: items[0]!.externalId };

    expect(await countOf('batched')).toBe(items.length);
    expect(await countOf('submitted')).toBe(0);
    expect((await findItem(h.ctx.db, one))!.status).toBe('batched');

    expect(await submit(h.ctx, batchId)).toMatchObject({ kind: 'submitted' });

    const stored = await query<{ status: string; n: number }>(h.ctx.db, 'select status, count(*)::int as n from items group by status');
    expect(stored).toEqual([{ status: 'batched', n: items.length }]);
    expect(await countOf('submitted')).toBe(items.length);
    expect(await countOf('batched')).toBe(0);
    expect((await findItem(h.ctx.db, one))!.status).toBe('submitted');
    expect((await findBatch(h.ctx.db, batchId))!.itemsNow).toEqual({ submitted: items.length });

    const listed = await listItems(h.ctx.db, { status: 'submitted', limit: 100 });
    expect(listed.map((i) => i.externalId).sort()).toEqual(items.map((i) => i.externalId).sort());
    expect(listed.every((i) => i.status === 'submitted')).toBe(true);
    expect(await listItems(h.ctx.db, { status: 'batched' })).toEqual([]);
  });
});
