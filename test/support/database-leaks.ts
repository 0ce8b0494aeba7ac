/**
 * Global setup: the PostgreSQL half of the leak guard (`redis-leaks.ts` is the Redis half). Every
 * schema `createTestDatabase` makes carries this run's tag; when the run ends, any such schema still
 * there fails the run, named, after it is dropped. A test drops its schema with `database.drop()`.
 */
import pg from 'pg';
import { dropSchema, runSchemaPrefix, TEST_DATABASE_BASE } from './database.ts';
import { ensureRunTag } from './run-tag.ts';

export default function setup(): () => Promise<void> {
  ensureRunTag();
  return async () => {
    const client = new pg.Client({ connectionString: TEST_DATABASE_BASE });
    try {
      await client.connect();
    } catch {
      return; // no test database (a unit-only run without PostgreSQL): nothing can have been left there
    }
    try {
      const pattern = `${runSchemaPrefix().replace(/_/g, '\\_')}%`;
      const left = (await client.query<{ name: string }>('select nspname as name from pg_namespace where nspname like $1 order by 1', [pattern])).rows.map((r) => r.name);
      if (left.length === 0) return;
      for (const name of left) await dropSchema(name);
      console.error(`database leak guard: tests left ${left.length} schema(s): ${left.join(', ')}; drop a test's database when it ends (database.drop())`);
      process.exitCode = 1;
    } finally {
      await client.end();
    }
  };
}
