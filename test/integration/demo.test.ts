/**
 * The demo keeps to itself: by default its tables are in their own PostgreSQL schema (migrated on
 * start) and its queues under their own Redis prefix, so a run never touches another fleet's rows
 * or jobs, even when DATABASE_URL names that fleet's schema. And when it cleans up after an
 * earlier run's simulator, it only looks at demo batches.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { releaseWorkOfStoppedSimulators } from '../../src/demo/run-demo.ts';
import { parseDatabaseUrl } from '../../src/store/db.ts';
import { query } from '../../src/store/sql.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { startHarness, type TestHarness } from '../support/fleet.ts';
import { deletePrefix, REDIS_URL, scanKeys, testPrefix } from '../support/redis.ts';
import { childEnv, REPO_ROOT } from '../support/processes.ts';

/** An open batch at a provider, holding items with these external ids. */
async function openBatch(db: TestDatabase['db'], providerId: string, externalIds: string[]): Promise<string> {
  const id = randomUUID();
  await query(
    db,
    `insert into batches (id, task, model, endpoint, status, provider_batch_id, provider_status, request_count, submitted_at)
     values ($1::uuid, 'classify-ticket', 'gpt-4o-mini', '/v1/chat/completions', 'in_progress', $2, 'in_progress', $3, now())
     returning id`,
    id,
    providerId,
    externalIds.length,
  );
  for (const externalId of externalIds) {
    await query(
      db,
      `with ins as (
         insert into items (id, task, external_id, status, batch_id, estimated_tokens, estimated_bytes)
         values ($1::uuid, 'classify-ticket', $2, 'batched', $3::uuid, 10, 10) returning id)
       insert into item_inputs (item_id, input) select id, '{}' from ins returning item_id`,
      randomUUID(),
      externalId,
      id,
    );
  }
  return id;
}

async function statusOf(db: TestDatabase['db'], id: string): Promise<string> {
  const [row] = await query<{ status: string }>(db, 'select status from batches where id = $1::uuid', id);
  return row!.status;
}

describe('releaseWorkOfStoppedSimulators', () => {
  let h: TestHarness;
  beforeAll(async () => {
    h = await startHarness({ roles: false });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("fails only demo batches its simulator does not know, never another fleet's", async () => {
    const demo = await openBatch(h.database.db, 'batch_gone_demo', ['demo-0123abcd-0', 'demo-0123abcd-1']);
    const other = await openBatch(h.database.db, 'batch_gone_other', ['order-1', 'order-2']);
    const mixed = await openBatch(h.database.db, 'batch_gone_mixed', ['demo-0123abcd-2', 'order-3']);
    const released = await releaseWorkOfStoppedSimulators(h.ctx);
    expect(released.failed).toEqual([demo]);
    expect(await statusOf(h.database.db, demo)).toBe('failed');
    expect(await statusOf(h.database.db, other)).toBe('in_progress');
    expect(await statusOf(h.database.db, mixed)).toBe('in_progress');
  });
});

describe('npm run demo', () => {
  let fleet: TestDatabase;
  let dataDir: string;
  const demoSchema = `t_demo_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const demoPrefix = testPrefix('demo');
  const fleetPrefix = testPrefix('fleet');

  beforeAll(async () => {
    fleet = await createTestDatabase();
    dataDir = await mkdtemp(join(tmpdir(), 'batchfleet-demo-test-'));
  });
  afterAll(async () => {
    const { connectionString } = parseDatabaseUrl(fleet.url);
    const c = new pg.Client({ connectionString });
    await c.connect();
    await c.query(`drop schema if exists "${demoSchema}" cascade`).finally(() => c.end());
    await deletePrefix(demoPrefix);
    await deletePrefix(fleetPrefix);
    await fleet?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("runs in its own schema and Redis prefix, migrated on start, even when DATABASE_URL names another fleet's schema", async () => {
    // Another fleet's work in the schema DATABASE_URL names: an open batch at a provider the demo's simulator never saw.
    const theirs = await openBatch(fleet.db, 'batch_of_another_fleet', ['order-1', 'order-2']);

    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join('workers', 'demo.ts'), '--items', '20', '--scenario', 'instant', '--json', '--schema', demoSchema, '--prefix', demoPrefix],
      { cwd: REPO_ROOT, env: childEnv({ DATABASE_URL: fleet.url, REDIS_URL, BATCHFLEET_PREFIX: fleetPrefix, DATA_DIR: dataDir, LOG_LEVEL: 'warn' }), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 150_000);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    clearTimeout(timer);
    expect(code, `${out}\n${err}`).toBe(0);

    const summary = JSON.parse(out.trim().split('\n').at(-1)!);
    expect(summary).toMatchObject({ items: 20, succeeded: 20, pending: 0, prefix: demoPrefix });
    expect(summary.database).toContain(`schema=${demoSchema}`);

    // The demo's rows are in its own (migrated) schema…
    const { connectionString } = parseDatabaseUrl(fleet.url);
    const c = new pg.Client({ connectionString });
    await c.connect();
    try {
      const mine = await c.query<{ n: number }>(`select count(*)::int as n from "${demoSchema}".items where external_id like 'demo-%'`);
      expect(mine.rows[0]!.n).toBe(20);
      const migrations = await c.query<{ n: number }>(`select count(*)::int as n from "${demoSchema}"._prisma_migrations where finished_at is not null`);
      expect(migrations.rows[0]!.n).toBeGreaterThan(0);
    } finally {
      await c.end();
    }
    // …and the other fleet's are as they were.
    expect(await statusOf(fleet.db, theirs)).toBe('in_progress');
    const [counts] = await query<{ items: number; batches: number }>(fleet.db, 'select (select count(*)::int from items) as items, (select count(*)::int from batches) as batches');
    expect(counts).toEqual({ items: 2, batches: 1 });

    // Redis: the demo's jobs are under its prefix; nothing was written under the fleet's.
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
    try {
      expect((await scanKeys(redis, `${demoPrefix}:*`)).length).toBeGreaterThan(0);
      expect(await scanKeys(redis, `${fleetPrefix}:*`)).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });
});
