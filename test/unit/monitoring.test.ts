/**
 * The alert evaluator (failure rate per task over the window, spend per UTC day, stuck batches)
 * on a private PostgreSQL schema, and the notifier: log line, JSON webhook (errors and timeouts
 * logged, never thrown), de-duplication within the window, in-process and through Redis.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import type { Db } from '../../src/store/db.ts';
import { execute } from '../../src/store/sql.ts';
import { captureLogs, createLogger, type CapturedLogs } from '../../src/logging/index.ts';
import { AlertNotifier, alertRulesFrom, evaluateAlerts, startAlertMonitor, type Alert, type AlertRules } from '../../src/monitoring/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { REDIS_URL, testPrefix } from '../support/redis.ts';
import { waitFor } from '../support/wait.ts';

const HOUR = 3_600_000;
let database: TestDatabase;

const RULES: AlertRules = { windowMs: 15 * 60_000, failureRate: 0.2, minAttempts: 20, spendUsd: undefined, stuckAfterMs: 2 * HOUR, maxStuckAlerts: 20 };

/** One batch of `task` with `ok` succeeded and `bad` failed attempts (half `retry`, half `failed`), `ageMs` ago. */
async function attempts(task: string, ok: number, bad: number, options: { ageMs?: number; costEach?: number; code?: string } = {}): Promise<string> {
  const batch = randomUUID();
  const age = `${options.ageMs ?? 60_000} milliseconds`;
  await execute(
    database.db,
    `insert into batches (id, task, model, endpoint, status, status_changed_at) values ($1::uuid, $2, 'gpt-4o-mini', '/v1/chat/completions', 'processed', now())`,
    batch,
    task,
  );
  await execute(
    database.db,
    `with n as (select g from generate_series(1, $3::int + $4::int) g),
          i as (
            insert into items (id, task, external_id, status, estimated_tokens, estimated_bytes, batch_id)
            select gen_random_uuid(), $2, $1 || '-' || g, case when g <= $3::int then 'succeeded' else 'failed' end, 10, 100, $1::uuid from n
            returning id, external_id
          )
     insert into attempts (item_id, batch_id, outcome, error_code, cost_usd, sync_cost_usd, created_at)
     select i.id, $1::uuid,
            case when split_part(i.external_id, '-', 6)::int <= $3::int then 'succeeded' when split_part(i.external_id, '-', 6)::int % 2 = 0 then 'retry' else 'failed' end,
            case when split_part(i.external_id, '-', 6)::int <= $3::int then null else $7::text end,
            $5::numeric, $5::numeric * 2, now() - $6::interval
       from i`,
    batch,
    task,
    ok,
    bad,
    options.costEach ?? 0.001,
    age,
    options.code ?? 'truncated',
  );
  return batch;
}

async function openBatch(status: string, changedAgoMs: number): Promise<string> {
  const id = randomUUID();
  await execute(
    database.db,
    `insert into batches (id, task, model, endpoint, status, provider_batch_id, status_changed_at)
     values ($1::uuid, 'classify-ticket', 'gpt-4o-mini', '/v1/chat/completions', $2, $3, now() - ($4 || ' milliseconds')::interval)`,
    id,
    status,
    `batch_${id.replace(/-/g, '')}`,
    String(changedAgoMs),
  );
  return id;
}

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});
beforeEach(async () => {
  await execute(database.db, 'truncate attempts, items, batches cascade');
});

describe('evaluateAlerts', () => {
  it('raises a failure-rate alert for a task at or above the threshold within the window, with its top causes', async () => {
    await attempts('classify-ticket', 21, 9, { code: 'not_json' }); // 30 %
    await attempts('summarize-article', 27, 3); // 10 %
    await attempts('tiny-task', 0, 5); // 100 %, but too few attempts
    await attempts('old-task', 0, 50, { ageMs: 2 * HOUR }); // outside the window

    const alerts = await evaluateAlerts(database.db, RULES);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      kind: 'failure_rate',
      key: 'failure_rate:classify-ticket',
      details: { task: 'classify-ticket', model: 'gpt-4o-mini', attempts: 30, failures: 9, rate: 0.3, threshold: 0.2, topCauses: [{ cause: 'not_json', failures: 9 }] },
    });
    expect(alerts[0]!.message).toMatch(/30\.0% of 30 attempts failed in the last 15 min/);

    expect(await evaluateAlerts(database.db, { ...RULES, failureRate: 0.31 })).toEqual([]);
    expect((await evaluateAlerts(database.db, { ...RULES, failureRate: 0.1 })).map((a) => a.key)).toEqual(['failure_rate:classify-ticket', 'failure_rate:summarize-article']);
    expect((await evaluateAlerts(database.db, { ...RULES, minAttempts: 5 })).map((a) => a.key)).toEqual(['failure_rate:classify-ticket', 'failure_rate:tiny-task']);
    expect((await evaluateAlerts(database.db, { ...RULES, windowMs: 3 * HOUR })).map((a) => a.key)).toContain('failure_rate:old-task');
  });

  it('raises a spend alert once today\'s spend reaches the threshold', async () => {
    await attempts('classify-ticket', 100, 0, { costEach: 0.01 }); // $1.00 today
    await attempts('classify-ticket', 100, 0, { costEach: 0.5, ageMs: 48 * HOUR }); // yesterday: not today's spend

    expect(await evaluateAlerts(database.db, { ...RULES, spendUsd: 1.01 })).toEqual([]);
    const [alert] = await evaluateAlerts(database.db, { ...RULES, spendUsd: 1 });
    const today = new Date().toISOString().slice(0, 10);
    expect(alert).toMatchObject({ kind: 'daily_spend', key: `daily_spend:${today}`, severity: 'critical', details: { date: today, spentUsd: 1, thresholdUsd: 1 } });
  });

  it('raises one alert per batch whose status has not changed for longer than STUCK_AFTER_MS', async () => {
    const stuck = await openBatch('finalizing', 3 * HOUR);
    const heldLong = await openBatch('built', 5 * HOUR);
    await openBatch('in_progress', 10 * 60_000);
    await attempts('classify-ticket', 1, 0, { ageMs: 10 * HOUR }); // processed: never stuck
    await execute(database.db, `update batches set status_changed_at = now() - interval '10 hours' where status = 'processed'`);

    const alerts = await evaluateAlerts(database.db, RULES);
    expect(alerts.map((a) => a.key)).toEqual([`stuck_batch:${heldLong}:built`, `stuck_batch:${stuck}:finalizing`]);
    expect(alerts[1]).toMatchObject({ kind: 'stuck_batch', details: { batchId: stuck, status: 'finalizing', stuckAfterMs: 2 * HOUR } });
    expect(alerts[1]!.message).toMatch(/has been finalizing for 180 min/);

    const capped = await evaluateAlerts(database.db, { ...RULES, maxStuckAlerts: 1 });
    expect(capped).toHaveLength(1);
    expect(capped[0]!.message).toMatch(/and 1 more stuck batches/);
  });

  it('reads its thresholds from the configuration', () => {
    const config = loadConfig({ ALERT_FAILURE_RATE: '0.35', ALERT_SPEND_USD: '12.5', STUCK_AFTER_MS: '600000' });
    expect(alertRulesFrom(config)).toMatchObject({ failureRate: 0.35, spendUsd: 12.5, stuckAfterMs: 600_000 });
    expect(alertRulesFrom(config, { windowMs: 1_000 }).windowMs).toBe(1_000);
  });
});

// ---------------------------------------------------------------------------------------------

interface Receiver {
  url: string;
  bodies: unknown[];
  /** Requests whose client went away before an answer was sent. */
  aborted: unknown[];
  server: Server;
}

async function receiver(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<Receiver> {
  const bodies: unknown[] = [];
  const aborted: unknown[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const parsed = JSON.parse(body) as unknown;
      bodies.push(parsed);
      res.on('close', () => {
        if (!res.writableEnded) aborted.push(parsed);
      });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, bodies, aborted, server };
}

const closeServer = (s: Server) => new Promise<void>((resolve) => { s.closeAllConnections(); s.close(() => resolve()); });

const alert = (key: string): Alert => ({ kind: 'stuck_batch', key, severity: 'warning', message: `alert ${key}`, at: new Date().toISOString(), details: { key } });

describe('AlertNotifier', () => {
  let logs: CapturedLogs;
  const servers: Server[] = [];
  beforeEach(() => {
    logs = captureLogs();
  });
  afterEach(async () => {
    await Promise.all(servers.splice(0).map(closeServer));
  });
  const log = () => createLogger({ level: 'info', destination: logs.stream });
  const warnings = () => logs.records().filter((r) => r.level === 40);

  it('logs each alert as a warn line and posts it as JSON; the same key is emitted once per window', async () => {
    const hook = await receiver((_req, res) => res.writeHead(204).end());
    servers.push(hook.server);
    let now = 1_000_000;
    const notifier = new AlertNotifier({ log: log(), webhookUrl: hook.url, dedupMs: 60_000, now: () => now });

    expect(await notifier.notify([alert('a'), alert('b')])).toHaveLength(2);
    expect(await notifier.notify([alert('a'), alert('b'), alert('c')])).toEqual([expect.objectContaining({ key: 'c' })]);
    now += 59_999;
    expect(await notifier.notify([alert('a')])).toEqual([]);
    now += 1;
    expect(await notifier.notify([alert('a')])).toEqual([expect.objectContaining({ key: 'a' })]);

    const lines = warnings();
    expect(lines.map((l) => (l.alert as Alert).key)).toEqual(['a', 'b', 'c', 'a']);
    expect(lines[0]!.msg).toBe('alert: alert a');
    expect(hook.bodies).toHaveLength(4);
    expect(hook.bodies[0]).toMatchObject({ kind: 'stuck_batch', key: 'a', message: 'alert a', text: '[batchfleet] alert a' });
  });

  it('logs, and never throws, when the webhook answers an error, is unreachable, or hangs past the timeout', async () => {
    const failing = await receiver((_req, res) => res.writeHead(500).end('no'));
    const hanging = await receiver(() => undefined);
    servers.push(failing.server, hanging.server);
    const closed = await receiver(() => undefined);
    await closeServer(closed.server);

    await new AlertNotifier({ log: log(), webhookUrl: failing.url }).notify([alert('x')]);
    await new AlertNotifier({ log: log(), webhookUrl: closed.url }).notify([alert('y')]);
    // The hanging receiver never answers: notify() returns only because the notifier gave up on
    // its own (else this test would hang), and it gave up by aborting the request.
    await new AlertNotifier({ log: log(), webhookUrl: hanging.url, timeoutMs: 300 }).notify([alert('z')]);
    expect(warnings().find((r) => r.alertKey === 'z')?.err).toMatch(/timeout/i);
    await waitFor('the hanging request aborted by the notifier', () => hanging.aborted.length === 1);

    const msgs = warnings().map((r) => [r.msg, r.alertKey]);
    expect(msgs).toContainEqual(['alert webhook answered with an error status', 'x']);
    expect(msgs).toContainEqual(['alert webhook failed', 'y']);
    expect(msgs).toContainEqual(['alert webhook failed', 'z']);
    expect(failing.bodies).toHaveLength(1);
    expect(hanging.bodies).toHaveLength(1);
  });

  it('de-duplicates across processes through Redis', async () => {
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
    const prefix = testPrefix('alerts');
    try {
      const first = new AlertNotifier({ log: log(), dedupRedis: { redis, prefix }, dedupMs: 10_000 });
      const second = new AlertNotifier({ log: log(), dedupRedis: { redis, prefix }, dedupMs: 10_000 });
      expect(await first.notify([alert('shared')])).toHaveLength(1);
      expect(await second.notify([alert('shared'), alert('other')])).toEqual([expect.objectContaining({ key: 'other' })]);
      const ttl = await redis.pttl(`${prefix}:alerts:shared`);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(10_000);
    } finally {
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length) await redis.del(...keys);
      await redis.quit();
    }
  });
});

describe('startAlertMonitor', () => {
  it('evaluates and notifies, de-duplicating repeated runs, and reports evaluation failures without throwing', async () => {
    const logs = captureLogs();
    const logger = createLogger({ level: 'info', destination: logs.stream });
    await attempts('classify-ticket', 10, 20);
    const config = loadConfig({ ALERT_FAILURE_RATE: '0.5' });
    const monitor = startAlertMonitor({ db: database.db, config, log: logger }, { everyMs: 3_600_000 });
    try {
      expect((await monitor.runOnce()).map((a) => a.key)).toEqual(['failure_rate:classify-ticket']);
      expect(await monitor.runOnce()).toEqual([]);
    } finally {
      monitor.stop();
    }

    const down = { $queryRawUnsafe: () => Promise.reject(new Error('connection refused')) } as unknown as Db;
    const broken = startAlertMonitor({ db: down, config, log: logger }, { everyMs: 3_600_000 });
    try {
      expect(await broken.runOnce()).toEqual([]);
    } finally {
      broken.stop();
    }
    expect(logs.records().filter((r) => r.msg === 'alert evaluation failed; it will run again').map((r) => r.err)).toEqual(['connection refused']);
  });
});
