import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { Prisma, PrismaClient } from '../generated/prisma/client.ts';

export type Db = PrismaClient;
/** The client handed to set-based helpers: the root client or an interactive transaction. */
export type DbTx = Omit<PrismaClient, '$connect' | '$disconnect' | '$on' | '$transaction' | '$extends'>;

const { builtins } = pg.types;
const arrayOf = (oid: number, each: (text: string) => unknown) => {
  const parse = pg.types.getTypeParser(oid, 'text') as (text: string) => Array<string | null>;
  return (text: string) => parse(text).map((v) => (v === null ? null : each(v)));
};
const PRISMA_RAW_PARSERS: Partial<Record<number, (text: string) => unknown>> = {
  [builtins.INT8]: (text) => BigInt(text),
  [builtins.NUMERIC]: (text) => new Prisma.Decimal(text),
  [builtins.TIMESTAMP]: (text) => new Date(`${text.replace(' ', 'T')}Z`),
  1016: arrayOf(1016, (text) => BigInt(text)), // int8[]
  1231: arrayOf(1231, (text) => new Prisma.Decimal(text)), // numeric[]
};

/**
 * The pool's type parsers: the values Prisma's raw queries return (int8 as bigint, numeric as
 * Decimal, timestamp as UTC), so a statement reads the same whether it runs on the pool or
 * inside one of Prisma's transactions. Prisma's adapter brings its own parsers to every query.
 */
const prismaRawTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    (format ?? 'text') === 'text' && PRISMA_RAW_PARSERS[oid] ? PRISMA_RAW_PARSERS[oid] : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/** The node-postgres pool under each root client `createDb` made (the one Prisma's adapter uses). */
const pools = new WeakMap<object, pg.Pool>();

/** The pool under a root client made by `createDb`; undefined for a transaction client or any other client. */
export function poolOf(db: DbTx): pg.Pool | undefined {
  return pools.get(db);
}

/** Splits `?schema=x` off a PostgreSQL URL: pg does not understand it, Prisma and we do. */
export function parseDatabaseUrl(url: string): { connectionString: string; schema: string | undefined; database: string } {
  const u = new URL(url);
  const schema = u.searchParams.get('schema') ?? undefined;
  u.searchParams.delete('schema');
  return { connectionString: u.toString(), schema, database: decodeURIComponent(u.pathname.slice(1)) };
}

/**
 * Runs `fn` in one transaction. On a root client made by `createDb` it takes a connection of the
 * pool under it and hands `fn` a client whose raw-SQL methods (`$queryRawUnsafe`, `$executeRawUnsafe`,
 * all the store's statements use) run there directly, skipping Prisma's request path; any other
 * client gets Prisma's interactive transaction. Only the store's raw SQL may run inside: code that
 * needs Prisma's typed client in a transaction (a task's hooks) uses `db.$transaction`.
 */
export async function rawTransaction<T>(db: Db, fn: (tx: DbTx) => Promise<T>): Promise<T> {
  const pool = pools.get(db);
  if (!pool) return db.$transaction(fn, { timeout: 120_000, maxWait: 30_000 });
  const client = await pool.connect();
  const tx = {
    $queryRawUnsafe: async (text: string, ...params: unknown[]) => (await client.query(text, params)).rows,
    $executeRawUnsafe: async (text: string, ...params: unknown[]) => (await client.query(text, params)).rowCount ?? 0,
  } as unknown as DbTx;
  let broken: unknown;
  try {
    await client.query('begin');
    const out = await fn(tx);
    await client.query('commit');
    return out;
  } catch (err) {
    await client.query('rollback').catch((e: unknown) => (broken = e));
    throw err;
  } finally {
    client.release(broken instanceof Error ? broken : undefined);
  }
}

/**
 * Creates a Prisma 7 client over `@prisma/adapter-pg`. A `?schema=` in the URL becomes the
 * session's search_path, so raw set-based SQL and Prisma's own queries see the same tables.
 */
export function createDb(url: string, options: { max?: number } = {}): Db {
  const { connectionString, schema } = parseDatabaseUrl(url);
  const pool = new pg.Pool({
    connectionString,
    max: options.max ?? 10,
    types: prismaRawTypes,
    ...(schema ? { options: `-c search_path="${schema.replace(/"/g, '""')}"` } : {}),
  });
  // An idle connection that breaks (a PostgreSQL restart) is replaced on the next checkout; without a
  // listener its 'error' event would end the process.
  pool.on('error', () => undefined);
  const db = new PrismaClient({ adapter: new PrismaPg(pool, { ...(schema ? { schema } : {}), disposeExternalPool: true }) });
  pools.set(db, pool);
  return db;
}

/**
 * Swallows the errors of a create that lost a race with another process creating the same thing:
 * 42P04 / 42P06 (it exists), or 23505 on the catalog's unique index when both got past the check.
 */
function createdConcurrently(err: { code?: string }): void {
  if (err.code !== '42P04' && err.code !== '42P06' && err.code !== '23505') throw err;
}

/**
 * Creates the database named in the URL if it does not exist yet (and its schema, if one is given).
 * Each connection gives up after `connectTimeoutMs` instead of waiting on an unreachable host.
 */
export async function ensureDatabase(url: string, options: { connectTimeoutMs?: number } = {}): Promise<void> {
  const { connectionString, schema, database } = parseDatabaseUrl(url);
  const connectionTimeoutMillis = options.connectTimeoutMs ?? 10_000;
  const admin = new URL(connectionString);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (found.rowCount === 0) {
      await client.query(`create database "${database.replace(/"/g, '""')}"`).catch(createdConcurrently);
    }
  } finally {
    await client.end();
  }
  if (schema) {
    const c = new pg.Client({ connectionString, connectionTimeoutMillis });
    await c.connect();
    try {
      await c.query(`create schema if not exists "${schema.replace(/"/g, '""')}"`).catch(createdConcurrently);
    } finally {
      await c.end();
    }
  }
}
