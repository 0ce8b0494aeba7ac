/**
 * The CLI and the worker entry points as a newcomer meets them, each run as its own process
 * against the real PostgreSQL and Redis: a missing database, an unmigrated schema, a server that
 * is not there. Each failure is one line on stderr saying what to do, with a non-zero exit and
 * no password. Then `npx batchfleet simulator` stopped with SIGTERM leaves nothing listening.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, dropSchema, runSchemaPrefix, TEST_DATABASE_BASE, type TestDatabase } from '../support/database.ts';
import { deletePrefix, REDIS_URL, testPrefix } from '../support/redis.ts';
import { childEnv, REPO_ROOT } from '../support/processes.ts';
import { waitFor } from '../support/wait.ts';

const BIN = join(REPO_ROOT, 'bin', 'batchfleet.mjs');
const PASSWORD = 'hunter2-not-printed';
const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const children = new Set<ChildProcess>();

/** Runs a command to its end (killed after `timeoutMs`), with a scrubbed environment plus `env`. */
function run(cmd: string, args: string[], env: Record<string, string>, timeoutMs = 90_000): Promise<Finished> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: REPO_ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Every queue prefix a child was given: a child that reached Redis leaves keys (BullMQ's `meta`), deleted after the file. */
const prefixes = new Set<string>();
function newPrefix(): string {
  const prefix = testPrefix('cli');
  prefixes.add(prefix);
  return prefix;
}

const cli = (args: string[], env: Record<string, string>) =>
  run(process.execPath, [BIN, ...args], { LOG_LEVEL: 'silent', BATCHFLEET_PREFIX: newPrefix(), ...env });
const worker = (role: string, env: Record<string, string>) =>
  run(process.execPath, ['--import', 'tsx', join('workers', `${role}.ts`)], { LOG_LEVEL: 'warn', METRICS_PORT: '0', BATCHFLEET_PREFIX: newPrefix(), ...env });

/** A loopback port nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** `url` with `password` set and `change` applied. */
function withPassword(url: string, change: (u: URL) => void = () => undefined): URL {
  const u = new URL(url);
  u.password = PASSWORD;
  change(u);
  return u;
}

/** Exactly one line on stderr, without the password; returns it. */
function oneLine(r: Finished): string {
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines, r.stderr).toHaveLength(1);
  expect(r.stderr).not.toContain(PASSWORD);
  expect(r.stdout).not.toContain(PASSWORD);
  return lines[0]!;
}

let migrated: TestDatabase;

beforeAll(async () => {
  migrated = await createTestDatabase();
});

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await migrated?.drop();
  for (const prefix of prefixes) await deletePrefix(prefix);
});

describe('connection problems, one line each', () => {
  it('a database that does not exist: run prisma migrate deploy (the URL shown without its password)', async () => {
    const name = `bf_missing_${randomUUID().slice(0, 8)}`;
    const url = withPassword(TEST_DATABASE_BASE, (u) => (u.pathname = `/${name}`));
    const r = await cli(['status'], { DATABASE_URL: url.toString(), REDIS_URL });
    expect(r.code).toBe(1);
    const shown = new URL(url);
    shown.password = 'X';
    expect(oneLine(r)).toBe(
      `batchfleet: database "${name}" does not exist; run \`npx prisma migrate deploy\` to create it and its tables (DATABASE_URL=${shown.toString().replace(':X@', ':[redacted]@')})`,
    );
  });

  it('a schema without the tables, for the CLI and for a worker: run prisma migrate deploy', async () => {
    const schema = `${runSchemaPrefix()}empty_${randomUUID().slice(0, 8)}`;
    const url = withPassword(TEST_DATABASE_BASE, (u) => u.searchParams.set('schema', schema));
    const database = decodeURIComponent(url.pathname.slice(1));
    const expected = (prefix: string) => {
      const shown = new URL(url);
      shown.password = 'X';
      return `${prefix}: database "${database}" (schema "${schema}") has no batchfleet tables; run \`npx prisma migrate deploy\` (DATABASE_URL=${shown.toString().replace(':X@', ':[redacted]@')})`;
    };
    const r = await cli(['items', '--status', 'failed'], { DATABASE_URL: url.toString(), REDIS_URL });
    expect(r.code).toBe(1);
    expect(oneLine(r)).toBe(expected('batchfleet'));

    // A worker creates the database and the schema if they are missing, but never the tables.
    try {
      const w = await worker('build', { DATABASE_URL: url.toString(), REDIS_URL });
      expect(w.code).toBe(1);
      expect(oneLine(w)).toBe(expected('batchfleet'));
    } finally {
      await dropSchema(schema);
    }
  });

  it('PostgreSQL not running: cannot reach it at host:port', async () => {
    const port = await closedPort();
    const url = withPassword(TEST_DATABASE_BASE, (u) => (u.port = String(port)));
    const r = await cli(['cost', '--since', 'yesterday'], { DATABASE_URL: url.toString(), REDIS_URL });
    expect(r.code).toBe(1);
    expect(oneLine(r)).toBe(`batchfleet: cannot reach PostgreSQL at ${url.hostname}:${port} (DATABASE_URL): connection refused; is it running?`);

    const w = await worker('poll', { DATABASE_URL: url.toString(), REDIS_URL });
    expect(w.code).toBe(1);
    expect(oneLine(w)).toBe(`batchfleet: cannot reach PostgreSQL at ${url.hostname}:${port} (DATABASE_URL): connection refused; is it running?`);
  });

  it('Redis not running: cannot reach it at host:port, from the CLI and from a worker', async () => {
    const port = await closedPort();
    const redisUrl = `redis://:${PASSWORD}@127.0.0.1:${port}`;
    const r = await cli(['status'], { DATABASE_URL: migrated.url, REDIS_URL: redisUrl });
    expect(r.code).toBe(1);
    expect(oneLine(r)).toBe(`batchfleet: cannot reach Redis at 127.0.0.1:${port} (REDIS_URL): connection refused; is it running?`);

    // A worker waits a while for Redis (it may be starting too), then gives up saying so.
    const w = await worker('intake', { DATABASE_URL: migrated.url, REDIS_URL: redisUrl });
    expect(w.code).toBe(1);
    expect(oneLine(w)).toBe(`batchfleet: cannot reach Redis at 127.0.0.1:${port} (REDIS_URL): connection refused; is it running?`);
  });

  it('a bad configuration: one line naming every bad variable, exit 2, from a worker as from the CLI', async () => {
    const env = { DATABASE_URL: migrated.url, REDIS_URL, POLL_MIN_MS: '0', CONCURRENCY_BUILD: '0' };
    const expected = 'batchfleet: invalid configuration: POLL_MIN_MS: must be at least 1 (ms); CONCURRENCY_BUILD: must be at least 1 (a worker with concurrency 0 takes no jobs)';
    const w = await worker('build', env);
    expect(w.code).toBe(2);
    expect(oneLine(w)).toBe(expected);
    const r = await cli(['status'], env);
    expect(r.code).toBe(2);
    expect(oneLine(r)).toBe(expected);
  });

  it('a migrated schema with both servers up: the same command succeeds', async () => {
    const r = await cli(['status', '--json'], { DATABASE_URL: migrated.url, REDIS_URL });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).items.byStatus).toEqual({});
  });
});

describe('the bin', () => {
  it('--version prints the package version', async () => {
    for (const flag of ['--version', '-v']) {
      const r = await cli([flag], {});
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(`${VERSION}\n`);
    }
  });

  it('a usage error is one line with exit code 2, before any connection is tried', async () => {
    const r = await cli(['cost', '--since', 'foo'], { DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/none', REDIS_URL: 'redis://127.0.0.1:1' });
    expect(r.code).toBe(2);
    expect(oneLine(r)).toBe('batchfleet: --since "foo" is not a date; use an ISO date (2026-12-01), "today", "yesterday" or a duration like 24h or 7d');
    const unknown = await cli(['frobnicate'], {});
    expect(unknown.code).toBe(2);
    expect(oneLine(unknown)).toBe("batchfleet: unknown command 'frobnicate'; see `batchfleet --help`");
  });
});

/** Pids of live processes whose command line holds every one of `words` (Linux /proc). */
function processesWith(words: string[]): number[] {
  if (!existsSync('/proc')) return [];
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const state = readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]?.[0];
      if (state !== 'Z' && words.every((w) => argv.includes(w))) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

describe('stopping the simulator', () => {
  for (const via of ['npx', 'node'] as const) {
    it(`SIGTERM to \`${via === 'npx' ? 'npx batchfleet' : 'node bin/batchfleet.mjs'} simulator\` leaves nothing listening`, async () => {
      const port = await closedPort();
      const args = ['simulator', '--host', '127.0.0.1', '--port', String(port)];
      const child =
        via === 'npx'
          ? spawn('npm', ['exec', '--offline', '--no', '--', 'batchfleet', ...args], { cwd: REPO_ROOT, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
          : spawn(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
      children.add(child);
      let out = '';
      child.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
      child.stderr!.on('data', (c: Buffer) => (out += c.toString('utf8')));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
      try {
        await waitFor('the simulator listening', async () => out.includes(`http://127.0.0.1:${port}/v1`) && (await accepts(port)), 90_000);
        const simulators = processesWith(['simulator', '--port', String(port)]);
        if (existsSync('/proc')) expect(simulators.length, out).toBeGreaterThan(0);

        child.kill('SIGTERM');
        const exit = await exited;
        if (via === 'node') expect(exit).toEqual({ code: 0, signal: null });
        await waitFor('the port closed', async () => !(await accepts(port)), 30_000);
        await waitFor('no simulator process left', () => processesWith(['simulator', '--port', String(port)]).length === 0, 30_000);
      } finally {
        child.kill('SIGKILL');
        for (const pid of processesWith(['simulator', '--port', String(port)])) process.kill(pid, 'SIGKILL');
        children.delete(child);
      }
    });
  }
});
