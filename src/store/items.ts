/**
 * Statements over `items` (and `item_inputs`, which holds each item's input apart from its row):
 * intake's insert, the claim, the pages of a batch file, and the moves of queued and failed items.
 * Every status write goes through `transitionItems`.
 */
import type { DbTx } from './db.ts';
import { IN_BATCH, itemStatusIn, ofBatch, transitionItems, type ItemStatus } from './item-states.ts';
import { one, raw, rows, rowsParam, sql, type Sql } from './sql.ts';

/** A new item as intake stores it. */
export interface NewItem {
  id: string;
  task: string;
  external_id: string;
  input: unknown;
  status: 'queued' | 'failed';
  estimated_tokens: number;
  estimated_bytes: number;
  error_code: string | null;
  error_message: string | null;
}

/** An item as a verdict needs it. */
export interface PendingItem {
  id: string;
  externalId: string;
  input: unknown;
  attempts: number;
  requeues: number;
  maxOutputTokens: number | null;
}

const PENDING_COLUMNS = `i.id::text as id, i.external_id as "externalId", i.attempts, i.requeues, i.max_output_tokens as "maxOutputTokens"`;
/** An item's input lives in `item_inputs` (see its migration): reads join it by primary key. */
const ITEMS_WITH_INPUT = 'items i left join item_inputs n on n.item_id = i.id';
const idList = (ids: readonly string[]) => sql`(select value::uuid from jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb))`;

/** Separates inputs in intake's statement: JSON.stringify escapes every control character, so no input contains it. */
const INPUT_SEPARATOR = '\x1e';

/**
 * Inserts new items idempotently on (task, external id); returns the ids actually inserted.
 * The items' other fields go as one JSON recordset; their inputs go as JSON text, joined by
 * `INPUT_SEPARATOR` in a second parameter and zipped with the records by position (`rows from`):
 * parsing the inputs as jsonb was half of this statement's CPU, and nothing in SQL reads into them.
 */
export async function insertMany(db: DbTx, items: readonly NewItem[], at: Date): Promise<string[]> {
  if (items.length === 0) return [];
  const records = items.map((i) => ({
    id: i.id, task: i.task, external_id: i.external_id, status: i.status, estimated_tokens: i.estimated_tokens,
    estimated_bytes: i.estimated_bytes, error_code: i.error_code, error_message: i.error_message,
  }));
  const inputs = items.map((i) => JSON.stringify(i.input) ?? 'null').join(INPUT_SEPARATOR);
  // The input goes to `item_inputs` for exactly the items inserted (a duplicate external id inserts neither).
  const r = await rows<{ id: string }>(
    db,
    sql`with r as (
          select * from rows from (
              json_to_recordset(${rowsParam(records)}::json) as (id uuid, task text, external_id text, status text,
                estimated_tokens int, estimated_bytes int, error_code text, error_message text),
              string_to_table(${inputs}::text, ${INPUT_SEPARATOR}::text)
            ) as r(id, task, external_id, status, estimated_tokens, estimated_bytes, error_code, error_message, input)
        ), ins as (
          insert into items (id, task, external_id, status, estimated_tokens, estimated_bytes, error_code, error_message,
                             finished_at, available_at, created_at, updated_at)
          select r.id, r.task, r.external_id, r.status, r.estimated_tokens, r.estimated_bytes, r.error_code, r.error_message,
                 case when r.status = 'failed' then ${at}::timestamptz end, ${at}::timestamptz, ${at}::timestamptz, ${at}::timestamptz
            from r
          on conflict (task, external_id) do nothing
          returning id
        ), inputs as (
          insert into item_inputs (item_id, input) select r.id, r.input from r where r.id in (select id from ins)
        )
        select id::text as id from ins`,
  );
  return r.map((x) => x.id);
}

/** Inputs are stored as JSON text (`item_inputs.input`); readers get them parsed. */
function parseInputs<T extends { input: unknown }>(list: T[]): T[] {
  for (const row of list) if (typeof row.input === 'string') row.input = JSON.parse(row.input);
  return list;
}

/** How much one claim may take: requests, estimated input tokens, JSONL bytes. */
export interface ClaimCaps { requests: number; tokens: number; bytes: number }

/**
 * queued → batched: the oldest available items of `task` that fit `caps`, locked with
 * FOR UPDATE SKIP LOCKED so that concurrent claimers never take the same item.
 */
export function claim(db: DbTx, c: { task: string; batchId: string; caps: ClaimCaps; at: Date }): Promise<Array<{ id: string; estimatedTokens: number; estimatedBytes: number }>> {
  return transitionItems(db, {
    from: ['queued'],
    to: 'batched',
    at: c.at,
    with: sql`cand as (
        select id, estimated_tokens, estimated_bytes, available_at from items
         where task = ${c.task} and status = 'queued' and available_at <= ${c.at}::timestamptz
         order by available_at, id limit ${c.caps.requests} for update skip locked
      ), pick as (
        select id from (select id, sum(estimated_tokens) over w as ct, sum(estimated_bytes) over w as cb
                          from cand window w as (order by available_at, id)) s
         where ct <= ${c.caps.tokens}::bigint and cb <= ${c.caps.bytes}::bigint
      )`,
    from_: raw('pick'),
    set: { batch_id: sql`${c.batchId}::uuid` },
    where: raw('t.id = pick.id'),
    byKey: true,
    returning: raw(`t.id::text as id, t.estimated_tokens as "estimatedTokens", t.estimated_bytes as "estimatedBytes"`),
  });
}

/** Milliseconds until the first queued item of `task` is available (≤ 0: now), or null when none is queued. */
export async function nextAvailableInMs(db: DbTx, task: string, at: Date): Promise<number | null> {
  const r = await one<{ ms: number | null }>(
    db,
    sql`select (extract(epoch from min(available_at) - ${at}::timestamptz) * 1000)::float8 as ms from items where task = ${task} and status = 'queued'`,
  );
  return r?.ms ?? null;
}

/** Available queued items of a task and the age of the oldest (the build policy). */
export async function queuedSummary(db: DbTx, task: string, at: Date): Promise<{ count: number; oldestAgeMs: number }> {
  const r = await one<{ n: number; age: number | null }>(
    db,
    sql`select count(*)::int as n, (extract(epoch from ${at}::timestamptz - min(created_at)) * 1000)::float8 as age
          from items where task = ${task} and status = 'queued' and available_at <= ${at}::timestamptz`,
  );
  return { count: r?.n ?? 0, oldestAgeMs: r?.age ?? 0 };
}

/** Tasks that have queued items. */
export async function tasksWithQueued(db: DbTx): Promise<string[]> {
  return (await rows<{ task: string }>(db, sql`select distinct task from items where status = 'queued'`)).map((r) => r.task);
}

/** queued → failed for items that can never fit a batch under `tokenCap`. */
export async function failTooLarge(db: DbTx, task: string, tokenCap: number, at: Date): Promise<number> {
  const moved = await transitionItems(db, {
    from: ['queued'],
    to: 'failed',
    at,
    set: {
      error_code: 'too_large',
      finished_at: sql`${at}::timestamptz`,
      error_message: sql`'item can never fit a batch: needs ~' || t.estimated_tokens || ' input tokens, more than the ' || ${tokenCap}::bigint || ' a batch of this model may hold'`,
    },
    where: sql`t.task = ${task} and t.estimated_tokens > ${tokenCap}::bigint`,
  });
  return moved.length;
}

/** One page of a batch's claimed items, in id order (a batch file is a pure function of them). */
export async function batchPage(db: DbTx, batchId: string, afterId: string, limit: number): Promise<Array<{ id: string; input: unknown; maxOutputTokens: number | null }>> {
  return parseInputs(await rows(
    db,
    sql`select i.id::text as id, n.input, i.max_output_tokens as "maxOutputTokens" from ${raw(ITEMS_WITH_INPUT)}
         where i.batch_id = ${batchId}::uuid and i.status = 'batched' and i.id > ${afterId}::uuid order by i.id limit ${limit}`,
  ));
}

/** batched | submitted → queued: the batch was dissolved; no attempt is spent. */
export async function releaseFromBatch(db: DbTx, batchId: string, at: Date): Promise<number> {
  const moved = await transitionItems(db, { from: IN_BATCH, to: 'queued', at, set: { batch_id: null }, where: sql`t.batch_id = ${batchId}::uuid` });
  return moved.length;
}

/** Items of a batch still waiting for their verdict: these ids, or (without ids) the first `limit` by id. */
export async function pendingInBatch(db: DbTx, batchId: string, opts: PendingQuery): Promise<PendingItem[]> {
  const list = await rows<PendingItem>(db, pendingStatement(batchId, opts));
  return opts.withInput === false ? list : parseInputs(list);
}

/**
 * Which pending items of a batch to read: these ids, or (without ids) the first `limit` by id.
 * `withInput: false` leaves out their inputs (`input` is then undefined): a verdict that neither
 * the task's parser nor a hook reads them by need not join them.
 */
export interface PendingQuery { ids?: readonly string[]; limit?: number; statuses?: readonly ItemStatus[]; withInput?: boolean }

/** The statement `pendingInBatch` runs (by ids: through the primary key, see `statusGuard`). */
export function pendingStatement(batchId: string, opts: PendingQuery): Sql {
  const statuses = opts.statuses ?? IN_BATCH;
  const limit = opts.limit ? sql` order by i.id limit ${opts.limit}` : raw(' order by i.id');
  const which = opts.ids
    ? sql`i.id in ${idList(opts.ids)} and ${ofBatch('i', batchId)} and ${itemStatusIn('i', statuses, true)}`
    : sql`i.batch_id = ${batchId}::uuid and ${itemStatusIn('i', statuses)}`;
  const from = opts.withInput === false ? `${PENDING_COLUMNS} from items i` : `${PENDING_COLUMNS}, n.input from ${ITEMS_WITH_INPUT}`;
  return sql`select ${raw(from)} where ${which}${limit}`;
}

/** Which failed items an operator selects: ids, task, error code (any combination). */
export interface FailedFilter { ids?: readonly string[]; task?: string; reason?: string }

const failedWhere = (f: FailedFilter) =>
  sql`status = 'failed'
      and (${f.ids ? JSON.stringify(f.ids) : null}::jsonb is null or id in (select value::uuid from jsonb_array_elements_text(${f.ids ? JSON.stringify(f.ids) : null}::jsonb)))
      and (${f.task ?? null}::text is null or task = ${f.task ?? null})
      and (${f.reason ?? null}::text is null or error_code = ${f.reason ?? null})`;

/** Failed items matching the filter. */
export async function countFailed(db: DbTx, f: FailedFilter): Promise<number> {
  return (await one<{ n: number }>(db, sql`select count(*)::int as n from items where ${failedWhere(f)}`))?.n ?? 0;
}

/** failed → queued for up to `limit` matching items, counters reset; returns their tasks. */
export async function requeueFailed(db: DbTx, f: FailedFilter, limit: number, at: Date): Promise<string[]> {
  const moved = await transitionItems<{ task: string }>(db, {
    from: ['failed'],
    to: 'queued',
    at,
    with: sql`picked as (select id from items where ${failedWhere(f)} order by id limit ${limit} for update skip locked)`,
    from_: raw('picked'),
    set: { attempts: 0, requeues: 0, error_code: null, error_message: null, batch_id: null, available_at: sql`${at}::timestamptz`, finished_at: null },
    where: raw('t.id = picked.id'),
    byKey: true,
    returning: raw('t.task'),
  });
  return moved.map((r) => r.task);
}

/** queued → cancelled for these ids; returns the ids cancelled. */
export async function cancelQueued(db: DbTx, ids: readonly string[], at: Date): Promise<string[]> {
  const moved = await transitionItems(db, {
    from: ['queued'],
    to: 'cancelled',
    at,
    set: { error_code: 'cancelled', error_message: 'cancelled by an operator', finished_at: sql`${at}::timestamptz` },
    where: sql`t.id in ${idList(ids)}`,
    byKey: true,
  });
  return moved.map((r) => r.id);
}

/** The status of each of these ids (missing ids are absent). */
export async function statusesOf(db: DbTx, ids: readonly string[]): Promise<Map<string, string>> {
  const r = await rows<{ id: string; status: string }>(db, sql`select id::text as id, status from items where id in ${idList(ids)}`);
  return new Map(r.map((x) => [x.id, x.status]));
}
