import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createDb, ensureDatabase, type Db } from '../../src/store/db.ts';
import { runTag } from './run-tag.ts';

/** The database test schemas live in (TEST_DATABASE_URL, or batchfleet_test on the local server). */
export const TEST_DATABASE_BASE = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/batchfleet_test';
const MIGRATIONS = join(import.meta.dirname, '..', '..', 'prisma', 'migrations');

/** Test schemas of this run start with this (the run's tag, as Redis prefixes do), so the leak guard finds those a test left. */
export function runSchemaPrefix(): string {
  return `t_${runTag()}_`;
}

/** A fresh PostgreSQL schema holding the migrated tables, private to one test file or test. */
export interface TestDatabase {
  url: string;
  schema: string;
  db: Db;
  drop(): Promise<void>;
}

async function migrationSql(): Promise<string[]> {
  const dirs = (await readdir(MIGRATIONS, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  return Promise.all(dirs.map((d) => readFile(join(MIGRATIONS, d, 'migration.sql'), 'utf8')));
}

/** Creates a schema and applies the project's migrations to it (the same SQL `prisma migrate deploy` runs). */
export async function createTestDatabase(): Promise<TestDatabase> {
  await ensureDatabase(TEST_DATABASE_BASE);
  const schema = `${runSchemaPrefix()}${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const client = new pg.Client({ connectionString: TEST_DATABASE_BASE });
  await client.connect();
  try {
    await client.query(`create schema "${schema}"`);
    await client.query(`set search_path = "${schema}"`);
    for (const sql of await migrationSql()) await client.query(sql);
  } finally {
    await client.end();
  }
  const url = `${TEST_DATABASE_BASE}?schema=${schema}`;
  const db = createDb(url, { max: 8 });
  return {
    url,
    schema,
    db,
    async drop() {
      await db.$disconnect();
      await dropSchema(schema);
    },
  };
}

/** Drops a schema of the test database, if it is there (for a test that makes one by other means). */
export async function dropSchema(schema: string): Promise<void> {
  const c = new pg.Client({ connectionString: TEST_DATABASE_BASE });
  await c.connect();
  try {
    await c.query(`drop schema if exists "${schema}" cascade`);
  } finally {
    await c.end();
  }
}
