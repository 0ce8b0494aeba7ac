/**
 * What the bench runs beside the fleet: a private Redis, the simulator as its own process, the
 * scratch databases, and the naive reference (installed from the npm registry into a copy under
 * var/bench, since shared/ is read-only).
 */
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { childNodeBinary, freePort, REPO, run, spawnChild, VAR, type Child } from './children.ts';

/** A Redis the bench owns: its CPU and command counts are the fleet's alone. */
export interface BenchRedis {
  url: string;
  /** The server's pid when the bench started it (undefined for a shared Redis). */
  pid: number | undefined;
  private: boolean;
  /** used_cpu_user + used_cpu_sys, seconds. */
  cpuSeconds(): Promise<number>;
  /** Calls per command since start (INFO commandstats). */
  commandCalls(): Promise<Record<string, number>>;
  /** Deletes every key under `prefix`. */
  clear(prefix: string): Promise<void>;
  close(): Promise<void>;
}

/** Starts a private redis-server on a free port; falls back to `fallbackUrl` when there is no binary. */
export async function startRedis(fallbackUrl: string): Promise<BenchRedis> {
  let child: Child | undefined;
  let url = fallbackUrl;
  try {
    const port = await freePort();
    const dir = join(VAR, 'redis');
    mkdirSync(dir, { recursive: true });
    child = spawnChild('redis', 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir]);
    await child.waitForLine(/Ready to accept connections/, 15_000);
    url = `redis://127.0.0.1:${port}`;
  } catch (err) {
    console.error(`bench: no private redis-server (${(err as Error).message.split('\n')[0]}); using ${fallbackUrl}, whose CPU and command counts include other clients`);
    child = undefined;
  }
  const admin = new Redis(url, { maxRetriesPerRequest: 3 });
  const info = async (section: string): Promise<Record<string, string>> => {
    const text = await admin.info(section);
    const out: Record<string, string> = {};
    for (const line of text.split('\r\n')) {
      const i = line.indexOf(':');
      if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
    }
    return out;
  };
  return {
    url,
    pid: child?.pid,
    private: child !== undefined,
    async cpuSeconds() {
      const i = await info('cpu');
      return Number(i.used_cpu_user) + Number(i.used_cpu_sys);
    },
    async commandCalls() {
      const out: Record<string, number> = {};
      for (const [k, v] of Object.entries(await info('commandstats'))) {
        const m = /calls=(\d+)/.exec(v);
        if (m) out[k.replace(/^cmdstat_/, '')] = Number(m[1]);
      }
      return out;
    },
    async clear(prefix) {
      let cursor = '0';
      do {
        const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await admin.unlink(...keys);
      } while (cursor !== '0');
    },
    async close() {
      admin.disconnect();
      await child?.stop('SIGTERM', 5_000);
    },
  };
}

/** The simulator in its own process (`batchfleet simulator`), so its CPU is not the fleet's. */
export interface BenchSimulator {
  url: string;
  pid: number;
  stats(): Promise<{ requests: number; batchesCreated: number; filesCreated: number }>;
  reset(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Where the simulator sends its batch webhooks: the admin process of each fleet run listens on
 * `port` with `secret`, as a production fleet would, so a finished batch is polled at once.
 */
export interface BenchWebhook {
  port: number;
  secret: string;
}

/** A new webhook endpoint on a free port, with a fresh signing secret. */
export async function benchWebhook(): Promise<BenchWebhook> {
  return { port: await freePort(), secret: `whsec_${randomBytes(24).toString('base64')}` };
}

/** Starts the simulator with a scenario name or JSON file, posting batch webhooks to `webhook` if given. */
export async function startSimulatorProcess(scenario: string, name = 'simulator', nodeArgs: string[] = [], webhook?: BenchWebhook): Promise<BenchSimulator> {
  const port = await freePort();
  const dataDir = join(VAR, 'sim-data');
  mkdirSync(dataDir, { recursive: true });
  const hook = webhook ? ['--webhook-url', `http://127.0.0.1:${webhook.port}/webhooks/openai`, '--webhook-secret', webhook.secret] : [];
  const child = spawnChild(name, childNodeBinary(), [...nodeArgs, 'bin/batchfleet.mjs', 'simulator', '--port', String(port), '--scenario', scenario, '--data-dir', dataDir, ...hook]);
  const line = await child.waitForLine(/simulator: http/, 60_000);
  const url = /(http:\/\/\S+\/v1)/.exec(line)![1]!;
  const root = url.replace(/\/v1$/, '');
  return {
    url,
    pid: child.pid,
    async stats() {
      const s = (await (await fetch(`${root}/_simulator/stats`)).json()) as { totals: { requests: number; batchesCreated: number; filesCreated: number } };
      return { requests: s.totals.requests, batchesCreated: s.totals.batchesCreated, filesCreated: s.totals.filesCreated };
    },
    async reset() {
      const res = await fetch(`${root}/_simulator/reset`, { method: 'POST' });
      if (!res.ok) throw new Error(`simulator reset: ${res.status}`);
    },
    async close() {
      await child.stop('SIGTERM', 10_000);
    },
  };
}

/** The URL of database `name` on the server of `baseUrl`. */
export function databaseUrl(baseUrl: string, name: string): string {
  const u = new URL(baseUrl);
  u.search = '';
  u.pathname = `/${name}`;
  return u.toString();
}

/** Drops (if the bench made it before) and creates a scratch database. */
export async function recreateDatabase(baseUrl: string, name: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bench database name must be a plain identifier, got ${name}`);
  const admin = new pg.Client({ connectionString: databaseUrl(baseUrl, 'postgres') });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  return databaseUrl(baseUrl, name);
}

export async function dropDatabase(baseUrl: string, name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: databaseUrl(baseUrl, 'postgres') });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${name} with (force)`);
  } finally {
    await admin.end();
  }
}

/** Applies the project's migrations the way a deployment does (`prisma migrate deploy`). */
export async function migrate(url: string): Promise<void> {
  await run(process.execPath, [join(REPO, 'node_modules', 'prisma', 'build', 'index.js'), 'migrate', 'deploy'], { env: { ...process.env, DATABASE_URL: url } });
}

/** Flushes dirty buffers so each run starts from the same place (as the reference's own bench does). */
export async function checkpoint(baseUrl: string): Promise<void> {
  const c = new pg.Client({ connectionString: databaseUrl(baseUrl, 'postgres') });
  await c.connect();
  try {
    await c.query('checkpoint');
  } finally {
    await c.end();
  }
}

/** Transaction and tuple counters of one database (pg_stat_database). */
export async function databaseCounters(baseUrl: string, name: string): Promise<{ xacts: number; tuples: number }> {
  const c = new pg.Client({ connectionString: databaseUrl(baseUrl, 'postgres') });
  await c.connect();
  try {
    const { rows } = await c.query<{ xacts: string; tuples: string }>(
      `select (xact_commit + xact_rollback)::text as xacts, (tup_inserted + tup_updated + tup_deleted)::text as tuples
         from pg_stat_database where datname = $1`,
      [name],
    );
    return { xacts: Number(rows[0]?.xacts ?? 0), tuples: Number(rows[0]?.tuples ?? 0) };
  } finally {
    await c.end();
  }
}

/**
 * The naive reference, installed in a copy: files from `source` (../shared/baseline) are copied
 * to var/bench/baseline and `npm ci` runs there once per lockfile (from the npm registry).
 */
export async function installReference(source: string): Promise<string> {
  const src = resolve(source);
  if (!existsSync(join(src, 'run-baseline.mjs'))) throw new Error(`no naive reference at ${src} (expected run-baseline.mjs); pass --reference-dir`);
  const dest = join(VAR, 'baseline');
  const lock = readFileSync(join(src, 'package-lock.json'));
  const stamp = createHash('sha256').update(lock).digest('hex');
  const stampFile = join(dest, '.installed');
  mkdirSync(dest, { recursive: true });
  for (const f of readdirSync(src)) if (f.endsWith('.mjs') || f.endsWith('.json') || f.endsWith('.md')) cpSync(join(src, f), join(dest, f));
  if (!existsSync(stampFile) || readFileSync(stampFile, 'utf8') !== stamp || !existsSync(join(dest, 'node_modules', 'pg'))) {
    rmSync(join(dest, 'node_modules'), { recursive: true, force: true });
    console.error(`bench: installing the naive reference into ${dest} (npm ci)`);
    await run('npm', ['ci', '--no-audit', '--no-fund', '--prefix', dest]);
    writeFileSync(stampFile, stamp);
  }
  return dest;
}

/**
 * {@link databaseCounters} once they stop moving: a backend flushes its statistics when it
 * exits or goes idle, a little after its last transaction, so a count read right after a
 * process ends can miss that process's last transactions.
 */
export async function settledDatabaseCounters(baseUrl: string, name: string, timeoutMs = 15_000): Promise<{ xacts: number; tuples: number }> {
  const deadline = Date.now() + timeoutMs;
  let last = await databaseCounters(baseUrl, name);
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    const now = await databaseCounters(baseUrl, name);
    if ((now.xacts === last.xacts && now.tuples === last.tuples) || Date.now() > deadline) return now;
    last = now;
  }
}

/** The reference's fake OpenAI server (its own process). */
export async function startFakeOpenAI(dir: string): Promise<{ base: string; pid: number; reset(): Promise<void>; close(): Promise<void> }> {
  const child = spawnChild('fake-openai', childNodeBinary(), [join(dir, 'fake-openai.mjs'), '--port', '0']);
  const line = await child.waitForLine(/"port"/, 30_000);
  const base = `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}`;
  return {
    base,
    pid: child.pid,
    async reset() {
      await fetch(`${base}/__reset`, { method: 'POST' });
    },
    async close() {
      await child.stop('SIGTERM', 5_000);
    },
  };
}
