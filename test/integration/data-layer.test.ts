import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDatabase, parseDatabaseUrl, rawTransaction } from '../../src/store/db.ts';
import { rows, run, sql } from '../../src/store/sql.ts';
import { createTestDatabase, TEST_DATABASE_BASE, type TestDatabase } from '../support/database.ts';


describe('ensureDatabase', () => {
  const name = `bf_race_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const admin = () => {
    const u = new URL(parseDatabaseUrl(TEST_DATABASE_BASE).connectionString);
    u.pathname = '/postgres';
    return new pg.Client({ connectionString: u.toString() });
  };

  afterAll(async () => {
    const c = admin();
    await c.connect();
    await c.query(`drop database if exists "${name}" with (force)`).finally(() => c.end());
  });

  it('lets several processes create the same database and schema at once', async () => {
    const url = new URL(parseDatabaseUrl(TEST_DATABASE_BASE).connectionString);
    url.pathname = `/${name}`;
    url.searchParams.set('schema', 'fleet');
    const outcomes = await Promise.allSettled(Array.from({ length: 6 }, () => ensureDatabase(url.toString())));
    expect(outcomes.filter((o) => o.status === 'rejected')).toEqual([]);
    const c = admin();
    await c.connect();
    const found = await c.query('select 1 from pg_database where datname = $1', [name]).finally(() => c.end());
    expect(found.rowCount).toBe(1);
  });
});

describe('raw statements on the pool and inside a transaction', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database.drop();
  });

  const probe = sql`select 12345678901::int8 as i8, 7::int4 as i4, 0.0000012500::numeric(18,10) as num,
    '2026-12-05 10:11:12.345'::timestamp as ts, '2026-12-05T10:11:12.345Z'::timestamptz as tz,
    array[1, 2]::int8[] as i8s, '{"a": [1]}'::jsonb as j, null::int8 as none, count(*) as n`;
  /** Each value as its type and text, so bigint 1 and string '1' differ. */
  const typed = (v: unknown): unknown => {
    if (v === null || (typeof v === 'object' && v.constructor === Object)) return v;
    if (Array.isArray(v)) return v.map(typed);
    if (v instanceof Date) return `Date ${v.toISOString()}`;
    return `${typeof v === 'object' ? v.constructor.name : typeof v} ${String(v)}`;
  };
  const shape = (row: Record<string, unknown>) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typed(v)]));

  it("return the same values as Prisma's raw queries, whichever connection runs them", async () => {
    const [onPool] = await rows<Record<string, unknown>>(database.db, probe);
    const [inPrisma] = await database.db.$transaction((tx) => rows<Record<string, unknown>>(tx, probe));
    const [inRaw] = await rawTransaction(database.db, (tx) => rows<Record<string, unknown>>(tx, probe));
    expect(shape(onPool!)).toEqual(shape(inPrisma!));
    expect(shape(inRaw!)).toEqual(shape(inPrisma!));
    expect(onPool!.i8).toBe(12345678901n);
    expect((onPool!.ts as Date).toISOString()).toBe('2026-12-05T10:11:12.345Z');
    expect(String(onPool!.num)).toBe('0.00000125');
  });

  it('roll back a raw transaction that throws, and count the rows a statement touched', async () => {
    await run(database.db, sql`create table probe_rows (n int)`);
    await expect(
      rawTransaction(database.db, async (tx) => {
        await run(tx, sql`insert into probe_rows values (1), (2)`);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await rows(database.db, sql`select * from probe_rows`)).toEqual([]);
    expect(await run(database.db, sql`insert into probe_rows values (1), (2), (3)`)).toBe(3);
  });
});
