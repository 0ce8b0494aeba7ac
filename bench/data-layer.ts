/**
 * Which driver for which statement: Prisma's typed client, Prisma raw SQL (what src/store uses),
 * and node-postgres directly, on the same statements in one run. `npx tsx bench/data-layer.ts`.
 * The figures and the decision they support are in docs/architecture.md ("The data layer").
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createTestDatabase } from '../test/support/database.ts';
import { rows, rowsParam, sql } from '../src/store/sql.ts';

const READS = Number(process.env.READS ?? 2_000);
const BATCHES = Number(process.env.BATCHES ?? 10);
const ROWS = 1_000;

async function time(label: string, n: number, fn: () => Promise<unknown>): Promise<{ label: string; perSecond: number }> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn();
  const s = (performance.now() - t0) / 1000;
  return { label, perSecond: n / s };
}

const database = await createTestDatabase();
const pool = new pg.Pool({ connectionString: database.url.replace(/\?schema=.*/, ''), options: `-c search_path=${database.schema}`, max: 4 });
try {
  const newRows = () =>
    Array.from({ length: ROWS }, (_, i) => ({ id: randomUUID(), task: 't', external_id: `${randomUUID()}-${i}`, status: 'queued', estimated_tokens: 50, estimated_bytes: 300 }));
  const insertSql = `insert into items (id, task, external_id, status, estimated_tokens, estimated_bytes)
    select r.id, r.task, r.external_id, r.status, r.estimated_tokens, r.estimated_bytes
      from jsonb_to_recordset($1::jsonb) as r(id uuid, task text, external_id text, status text, estimated_tokens int, estimated_bytes int)`;
  const results = [];
  results.push(await time('insert 1,000 rows: Prisma typed createMany', BATCHES, () =>
    database.db.item.createMany({ data: newRows().map((r) => ({ id: r.id, task: r.task, externalId: r.external_id, status: r.status, estimatedTokens: r.estimated_tokens, estimatedBytes: r.estimated_bytes })) })));
  results.push(await time('insert 1,000 rows: Prisma raw, one jsonb statement', BATCHES, () => database.db.$executeRawUnsafe(insertSql, rowsParam(newRows()))));
  results.push(await time('insert 1,000 rows: node-postgres, one jsonb statement', BATCHES, () => pool.query(insertSql, [rowsParam(newRows())])));
  const [one] = await rows<{ id: string }>(database.db, sql`select id::text as id from items limit 1`);
  results.push(await time('point read: Prisma typed findUnique', READS, () => database.db.item.findUnique({ where: { id: one!.id } })));
  results.push(await time('point read: Prisma raw', READS, () => database.db.$queryRawUnsafe('select * from items where id = $1::uuid', one!.id)));
  results.push(await time('point read: node-postgres', READS, () => pool.query('select * from items where id = $1::uuid', [one!.id])));
  console.table(results.map((r) => ({ statement: r.label, 'rows or reads per second': Math.round(r.label.startsWith('insert') ? r.perSecond * ROWS : r.perSecond) })));
} finally {
  await pool.end();
  await database.drop();
}
