import pg from 'pg';
import { parseDatabaseUrl } from './db.ts';

/** The tables the migrations create (prisma/schema.prisma's `@@map` names). */
export const TABLES: readonly string[] = Object.freeze(['batches', 'items', 'attempts', 'rejections', 'model_limits']);

/**
 * The batchfleet tables missing from the database at `url` (in its `?schema=`, else `public`):
 * empty once `prisma migrate deploy` has run. Opens one short-lived connection that gives up after
 * `connectTimeoutMs`; connection problems reject with the driver's error (see classifyConnectionError).
 */
export async function missingTables(url: string, options: { connectTimeoutMs?: number } = {}): Promise<string[]> {
  const { connectionString, schema } = parseDatabaseUrl(url);
  const client = new pg.Client({
    connectionString,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    ...(schema ? { options: `-c search_path="${schema.replace(/"/g, '""')}"` } : {}),
  });
  client.on('error', () => undefined); // a connection dropped after the check is not this check's concern
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string }>(
      'select t.name from unnest($1::text[]) with ordinality as t(name, n) where to_regclass(quote_ident(t.name)) is null order by t.n',
      [[...TABLES]],
    );
    return rows.map((r) => r.name);
  } finally {
    await client.end().catch(() => undefined);
  }
}
