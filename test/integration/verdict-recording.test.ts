/**
 * A chunk of verdicts goes to PostgreSQL as one JSON recordset. Whatever an output holds, the item
 * keeps exactly that value and the returned row carries it; a verdict without output leaves the
 * item's output alone, whatever its neighbours in the chunk carry.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimItems } from '../../src/pipeline/claim.ts';
import { rawTransaction } from '../../src/store/db.ts';
import { insertMany, type NewItem } from '../../src/store/items.ts';
import { recordDecisions, type Decision } from '../../src/store/results.ts';
import { query } from '../../src/store/sql.ts';
import { uuidv7 } from '../../src/store/uuid7.ts';
import { startHarness, type TestHarness } from '../support/fleet.ts';

const TASK = 'classify-ticket';

let h: TestHarness;

beforeAll(async () => {
  h = await startHarness({ roles: false });
});
afterAll(async () => {
  await h?.close();
});

/** Stores `n` queued items and claims them into a new batch; returns the batch and the item ids in claim order. */
async function claimed(n: number): Promise<{ batchId: string; ids: string[] }> {
  const tag = randomUUID().slice(0, 8);
  const rows: NewItem[] = Array.from({ length: n }, (_, i) => ({
    id: uuidv7(), task: TASK, external_id: `rec-${tag}-${i}`, input: { subject: 's', body: `ticket ${i}` }, status: 'queued',
    estimated_tokens: 100, estimated_bytes: 600, error_code: null, error_message: null,
  }));
  expect(await insertMany(h.ctx.db, rows, new Date())).toHaveLength(n);
  const batchId = randomUUID();
  const items = await claimItems(h.ctx, h.ctx.registry.get(TASK), batchId, { requests: n, tokens: 1e12, bytes: 1e12 }, 'batch');
  expect(items).toHaveLength(n);
  return { batchId, ids: items.map((i) => i.id) };
}

const decision = (itemId: string, output: unknown, status: Decision['status'] = 'succeeded'): Decision => ({
  item_id: itemId, outcome: status === 'succeeded' ? 'succeeded' : 'retry', status, error_code: status === 'succeeded' ? null : 'not_json',
  error_message: status === 'succeeded' ? null : 'no', output, attempts_inc: 1, requeues_inc: 0, delay_ms: 0, max_output_tokens: null,
  input_tokens: 100, cached_tokens: 0, output_tokens: 10, cost_usd: 0.0001, sync_cost_usd: 0.0002,
});

async function storedOutputs(ids: readonly string[]): Promise<unknown[]> {
  const list = await query<{ id: string; output: unknown }>(h.ctx.db, 'select id::text as id, output from items where id = any($1::uuid[])', ids);
  const byId = new Map(list.map((r) => [r.id, r.output]));
  return ids.map((id) => byId.get(id));
}

describe('recording verdicts with their outputs', () => {
  it('stores every output exactly, control characters and every UTF-8 width included, and returns each', async () => {
    const outputs: unknown[] = [
      { category: 'bug', note: 'record\x1eseparator and unit\x1f and nul-free \x01 text' },
      { text: 'é, 中文, 😀 and a lone \\ backslash', list: [1, 2.5, -3e-7, true, null, { deep: ['x'] }] },
      'a plain string answer',
      '',
      42,
      [],
      { empty: {} },
    ];
    const { batchId, ids } = await claimed(outputs.length);
    const moved = await rawTransaction(h.ctx.db, (tx) => recordDecisions(tx, batchId, ids.map((id, i) => decision(id, outputs[i])), new Date()));
    expect(moved).toHaveLength(outputs.length);
    const byId = new Map(moved.map((r) => [r.id, r]));
    for (const [i, id] of ids.entries()) expect(byId.get(id)!.output).toEqual(outputs[i]);
    expect(await storedOutputs(ids)).toEqual(outputs);
  });

  it('records a lone verdict, and leaves the output of an item whose verdict carries none', async () => {
    const { batchId, ids } = await claimed(2);
    const [first, second] = ids as [string, string];
    await rawTransaction(h.ctx.db, (tx) => recordDecisions(tx, batchId, [decision(first, { only: 1 })], new Date()));
    expect(await storedOutputs([first])).toEqual([{ only: 1 }]);

    // A retry without output keeps the output the item had.
    await query(h.ctx.db, `update items set output = '{"earlier": true}'::jsonb where id = $1::uuid`, second);
    const [retried] = await rawTransaction(h.ctx.db, (tx) => recordDecisions(tx, batchId, [decision(second, null, 'queued')], new Date()));
    expect(retried).toMatchObject({ id: second, status: 'queued', output: { earlier: true } });
    expect(await storedOutputs([second])).toEqual([{ earlier: true }]);

    // In a chunk where verdicts with and without output alternate, each output goes to its own item.
    const { batchId: b2, ids: more } = await claimed(4);
    const mixed = more.map((id, i) => decision(id, i % 2 === 0 ? { i } : undefined));
    await rawTransaction(h.ctx.db, (tx) => recordDecisions(tx, b2, mixed, new Date()));
    expect(await storedOutputs(more)).toEqual([{ i: 0 }, null, { i: 2 }, null]);
  });
});
