/**
 * Statements that name items by id reach them through the primary key, even while the table's
 * statistics still describe it as all queued (analyzed before the claim, as autovacuum leaves it
 * for minutes). Reaching them through `items_in_batch_idx` instead reads the whole batch, or
 * every in-flight item, for each chunk of 1,000 ids.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimItems } from '../../src/pipeline/claim.ts';
import { pendingStatement } from '../../src/store/items.ts';
import { recordStatement, type Decision } from '../../src/store/results.ts';
import { compile, execute, query, sql, type Sql } from '../../src/store/sql.ts';
import { startHarness, type TestHarness } from '../support/fleet.ts';

const TASK = 'classify-ticket';
/** Rows in the table: enough that reading all of them costs the planner more than 1,000 key lookups, as in production. */
const ROWS = 20_000;
const ITEMS = 4_000;

let h: TestHarness;
let batchId: string;
let chunk: string[];

beforeAll(async () => {
  h = await startHarness({ roles: false });
  await execute(
    h.ctx.db,
    `with ins as (
       insert into items (id, task, external_id, status, estimated_tokens, estimated_bytes)
       select gen_random_uuid(), '${TASK}', 'plan-' || g, 'queued', 100, 600 from generate_series(1, ${ROWS}) g
       returning id, external_id)
     insert into item_inputs (item_id, input)
     select id, jsonb_build_object('subject', 's' || external_id, 'body', repeat('ticket text ', 20))::text from ins`,
  );
  await execute(h.ctx.db, 'analyze items');
  await execute(h.ctx.db, 'analyze item_inputs');
  batchId = randomUUID();
  const claimed = await claimItems(h.ctx, h.ctx.registry.get(TASK), batchId, { requests: ITEMS, tokens: 1e12, bytes: 1e12 }, 'batch');
  expect(claimed).toHaveLength(ITEMS);
  chunk = claimed.slice(0, 1_000).map((c) => c.id);
});
afterAll(async () => {
  await h?.close();
});

/** The indexes the plan of `statement` reads, from EXPLAIN (not run). */
async function indexesOf(statement: Sql): Promise<string[]> {
  const { text, params } = compile(statement);
  const [row] = await query<{ 'QUERY PLAN': unknown }>(h.ctx.db, `explain (format json) ${text}`, ...params);
  return [...JSON.stringify(row!['QUERY PLAN']).matchAll(/"Index Name":"([^"]+)"/g)].map((m) => m[1]!);
}

const decision = (itemId: string): Decision => ({
  item_id: itemId, outcome: 'succeeded', status: 'succeeded', error_code: null, error_message: null, output: { ok: true },
  attempts_inc: 1, requeues_inc: 0, delay_ms: 0, max_output_tokens: null,
  input_tokens: 100, cached_tokens: 0, output_tokens: 10, cost_usd: 0.0001, sync_cost_usd: 0.0002,
});

describe('plans of the statements that name items by id', () => {
  it('would read the in-batch index with a plain status guard: the statistics lag behind the claim', async () => {
    const plain = sql`select id from items i where i.id in (select value::uuid from jsonb_array_elements_text(${JSON.stringify(chunk)}::jsonb))
      and i.batch_id = ${batchId}::uuid and i.status in ('batched', 'submitted')`;
    expect(await indexesOf(plain)).toContain('items_in_batch_idx');
  });

  it('reads a chunk of pending items, and their inputs, through the primary keys', async () => {
    const indexes = await indexesOf(pendingStatement(batchId, { ids: chunk }));
    expect(indexes).toContain('items_pkey');
    expect(indexes).toContain('item_inputs_pkey');
    expect(indexes).not.toContain('items_in_batch_idx');
  });

  it('records a chunk of verdicts through the primary key', async () => {
    const indexes = await indexesOf(recordStatement(batchId, 'succeeded', chunk.map(decision), new Date()));
    expect(indexes).toContain('items_pkey');
    expect(indexes).not.toContain('items_in_batch_idx');
  });
});
