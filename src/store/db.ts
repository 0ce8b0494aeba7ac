import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from '../generated/prisma/client.ts';

export type Db = PrismaClient;
/** The client handed to set-based helpers: the root client or an interactive transaction. */
export type DbTx = Omit<PrismaClient, '$connect' | '$disconnect' | '$on' | '$transaction' | '$extends'>;

/** Splits `?schema=x` off a PostgreSQL URL: pg does not understand it, Prisma and we do. */
export function parseDatabaseUrl(url: string): { connectionString: string; schema: string | undefined; database: string } {
  const u = new URL(url);
  const schema = u.searchParams.get('schema') ?? undefined;
  u.searchParams.delete('schema');
  return { connectionString: u.toString(), schema, database: decodeURIComponent(u.pathname.slice(1)) };
}

/**
 * Creates a Prisma 7 client over `@prisma/adapter-pg`. A `?schema=` in the URL becomes the
 * session's search_path, so raw set-based SQL and Prisma's own queries see the same tables.
 */
export function createDb(url: string, options: { max?: number } = {}): Db {
  const { connectionString, schema } = parseDatabaseUrl(url);
  const adapter = new PrismaPg(
    {
      connectionString,
      max: options.max ?? 10,
      ...(schema ? { options: `-c search_path="${schema.replace(/"/g, '""')}"` } : {}),
    },
    schema ? { schema } : undefined,
  );
  return new PrismaClient({ adapter });
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
      await client.query(`create database "${database.replace(/"/g, '""')}"`).catch((err: { code?: string }) => {
        if (err.code !== '42P04') throw err; // created concurrently
      });
    }
  } finally {
    await client.end();
  }
  if (schema) {
    const c = new pg.Client({ connectionString, connectionTimeoutMillis });
    await c.connect();
    try {
      await c.query(`create schema if not exists "${schema.replace(/"/g, '""')}"`);
    } finally {
      await c.end();
    }
  }
}
