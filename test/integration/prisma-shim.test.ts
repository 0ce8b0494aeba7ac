/**
 * Prisma's own CLI through the WASM schema-engine shim (docs/prisma-offline.md), as a developer
 * runs it to check or write a migration: `migrate diff` between the migrations and schema.prisma.
 * The describer used to panic on the CHECK constraints' `"char"` catalog column, so the command
 * printed nothing, exited 0 and left its shadow database behind.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { TEST_DATABASE_BASE } from '../support/database.ts';
import { childEnv, REPO_ROOT } from '../support/processes.ts';

const PRISMA = join(REPO_ROOT, 'node_modules', 'prisma', 'build', 'index.js');

function prisma(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PRISMA, ...args], { cwd: REPO_ROOT, env: childEnv({ DATABASE_URL: TEST_DATABASE_BASE }), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function shadowDatabases(): Promise<string[]> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_BASE });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>(`select datname from pg_database where datname like 'prisma_migrate_shadow_db_%'`);
    return rows.map((r) => r.datname);
  } finally {
    await client.end();
  }
}

describe('prisma migrate diff through the shim', () => {
  it('finds no drift between the migrations and schema.prisma, and drops its shadow database', async () => {
    const before = await shadowDatabases();
    const r = await prisma(['migrate', 'diff', '--from-migrations', 'prisma/migrations', '--to-schema', 'prisma/schema.prisma', '--script', '--exit-code']);
    expect(r.stderr).not.toMatch(/panicked|unreachable|Error/);
    expect(r.stdout).toContain('-- This is an empty migration.');
    expect(r.code).toBe(0);
    const left = (await shadowDatabases()).filter((d) => !before.includes(d));
    expect(left).toEqual([]);
  }, 120_000);

  it('reports what a schema change would add: the foreign keys relationMode "prisma" leaves out', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bf-schema-'));
    try {
      const schema = (await readFile(join(REPO_ROOT, 'prisma', 'schema.prisma'), 'utf8')).replace(/^\s*relationMode\s*=.*$/m, '');
      await writeFile(join(dir, 'schema.prisma'), schema);
      const r = await prisma(['migrate', 'diff', '--from-migrations', 'prisma/migrations', '--to-schema', join(dir, 'schema.prisma'), '--script', '--exit-code']);
      expect(r.stdout).toContain('ADD CONSTRAINT "attempts_item_id_fkey" FOREIGN KEY ("item_id") REFERENCES "items"("id")');
      expect(r.stdout).toContain('ADD CONSTRAINT "items_batch_id_fkey"');
      expect(r.code).toBe(2); // --exit-code: 2 means "there is a difference"
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
