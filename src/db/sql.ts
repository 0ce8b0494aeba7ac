import type { DbTx } from './client.ts';

/**
 * Set-based helpers. Many rows travel as ONE jsonb parameter and are unpacked in SQL with
 * `jsonb_to_recordset`, so a chunk of thousands of items is one statement, not one per item.
 */
export function rowsParam(rows: readonly object[]): string {
  return JSON.stringify(rows);
}

/** Runs a query and returns its rows. */
export function query<T>(db: DbTx, sql: string, ...params: unknown[]): Promise<T[]> {
  return db.$queryRawUnsafe<T[]>(sql, ...params);
}

/** Runs a statement and returns the affected row count. */
export function execute(db: DbTx, sql: string, ...params: unknown[]): Promise<number> {
  return db.$executeRawUnsafe(sql, ...params);
}
