/**
 * The admin server against a real fleet: /metrics read over HTTP while ~200 items run and checked
 * against PostgreSQL and Redis afterwards; Bull Board's basic auth and read-only mode; /readyz;
 * and the OpenAI webhook receiver (Standard Webhooks signatures computed here, independently of
 * the SDK that verifies them).
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdminServer, type AdminServer } from '../../src/admin/index.ts';
import { createDb } from '../../src/store/db.ts';
import { query } from '../../src/store/sql.ts';
import { sampleItems } from '../../src/demo/samples.ts';
import { createContext } from '../../src/runtime/context.ts';
import { exampleRegistry } from '../../src/tasks/index.ts';
import { startHarness, type TestHarness } from '../support/fleet.ts';
import { waitFor } from '../support/wait.ts';

const MODEL = 'gpt-4o-mini';
const ITEMS = 200;
const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const USER = 'ops';
const PASSWORD = randomUUID();
const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

// ---------------------------------------------------------------------------------------------
// A minimal Prometheus text parser.

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) throw new Error(`unparseable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, '$1');
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

function pick(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = pick(samples, name, labels);
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${found.length} series`);
  return found[0]?.value;
}

async function scrape(server: AdminServer): Promise<{ text: string; samples: Sample[]; contentType: string | null }> {
  const res = await fetch(`${server.url}/metrics`);
  expect(res.status).toBe(200);
  const text = await res.text();
  return { text, samples: parseMetrics(text), contentType: res.headers.get('content-type') };
}

/** The series every scrape during a run must carry (name and, where it matters, labels). */
const REQUIRED: Array<[string, Record<string, string>]> = [
  ['batchfleet_items', { task: 'classify-ticket' }],
  ['batchfleet_items', { task: 'summarize-article' }],
  ['batchfleet_batches', { model: MODEL }],
  ['batchfleet_queue_jobs', { queue: 'intake', state: 'waiting' }],
  ['batchfleet_queue_jobs', { queue: 'poll', state: 'delayed' }],
  ['batchfleet_queue_jobs', { queue: 'results.classify-ticket', state: 'waiting' }],
  ['batchfleet_budget_reserved_tokens', { model: MODEL }],
  ['batchfleet_budget_reservations', { model: MODEL }],
  ['batchfleet_budget_limit_tokens', { model: MODEL, kind: 'configured' }],
  ['batchfleet_budget_limit_tokens', { model: MODEL, kind: 'effective' }],
  ['batchfleet_held_batches', { model: MODEL }],
  ['batchfleet_cost_usd_total', {}],
  ['batchfleet_sync_cost_usd_total', {}],
  ['batchfleet_savings_usd_total', {}],
  ['batchfleet_failed_items', {}],
  ['batchfleet_recent_failures', { model: MODEL }],
  ['batchfleet_recent_attempts', {}],
  ['batchfleet_stuck_batches', {}],
  ['batchfleet_intake_rejections_total', { task: 'classify-ticket' }],
  ['batchfleet_provider_calls_total', { op: 'retrieveBatch', outcome: 'ok' }],
  ['batchfleet_provider_calls_total', { op: 'createBatch', outcome: 'ok' }],
  ['batchfleet_provider_call_duration_seconds_bucket', { op: 'retrieveBatch' }],
  ['batchfleet_poll_latency_seconds_count', {}],
];

// ---------------------------------------------------------------------------------------------

describe('admin server during and after a run', () => {
  let h: TestHarness;
  let admin: AdminServer;

  beforeAll(async () => {
    // Slower simulated time (x200) so that the run lasts a few seconds; some truncated answers force a second round.
    h = await startHarness({
      roles: false,
      scenario: { name: 'admin-test', lineFaults: { http400: 0.05, truncated: 0.08 } },
      seed: 5,
      simulator: { timeScale: 200 },
      env: { ADMIN_USER: USER, ADMIN_PASSWORD: PASSWORD, OPENAI_WEBHOOK_SECRET: SECRET },
    });
    await h.startFleet();
    admin = await startAdminServer(h.ctx, { port: 0, host: '127.0.0.1' });
  });

  afterAll(async () => {
    await admin?.close();
    await h?.close();
  });

  it('serves every series while the run is in flight, and values equal to the stores afterwards', async () => {
    const items = sampleItems('adm', ITEMS);
    for (const task of ['classify-ticket', 'summarize-article'] as const) {
      await h.ctx.queues.intake.add('intake', { task, items: items.filter((i) => i.task === task).map(({ externalId, input }) => ({ externalId, input })) });
    }
    // One rejected item, so the rejection counter has a series.
    await h.ctx.queues.intake.add('intake', { task: 'classify-ticket', externalId: 'adm-bad', input: { subject: '' } });

    let scrapes = 0;
    let missing: string[] = [];
    const during = await waitFor(
      'a scrape carrying every series while items are still in flight',
      async () => {
        const { samples, contentType } = await scrape(admin);
        scrapes++;
        expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
        const inFlight = ['queued', 'batched', 'submitted'].reduce((n, status) => n + pick(samples, 'batchfleet_items', { status }).reduce((a, s) => a + s.value, 0), 0);
        missing = REQUIRED.filter(([name, labels]) => pick(samples, name, labels).length === 0).map(([n, l]) => `${n}${JSON.stringify(l)}`);
        if (inFlight === 0) throw new Error(`the run ended before a complete scrape; still missing: ${missing.join(', ')}`);
        return missing.length === 0 ? { samples, inFlight } : null;
      },
      60_000,
      100,
    );
    expect(missing).toEqual([]);
    expect(during.inFlight).toBeGreaterThan(0);
    expect(scrapes).toBeGreaterThan(0);
    // Provider latency was measured: the poll loop's retrieveBatch calls.
    expect(value(during.samples, 'batchfleet_poll_latency_seconds_count')).toBeGreaterThan(0);

    await waitFor(
      'every item final and every batch processed',
      async () => {
        const [r] = await query<{ open: number; final: number }>(
          h.ctx.db,
          `select (select count(*)::int from items where status in ('succeeded', 'failed')) as final,
                  (select count(*)::int from batches where status <> 'processed') as open`,
        );
        return r!.final === ITEMS && r!.open === 0;
      },
      90_000,
    );

    // A reservation held right now, so that "reserved" is compared on a value other than zero.
    const reservation = randomUUID();
    await h.ctx.budget.reserve(MODEL, reservation, 4_321, 10 ** 9);
    try {
      const { samples } = await scrape(admin);

      const items = await query<{ task: string; status: string; n: number }>(h.ctx.db, 'select task, status, count(*)::int as n from items group by 1, 2');
      expect(pick(samples, 'batchfleet_items').map((s) => [s.labels.task, s.labels.status, s.value]).sort()).toEqual(items.map((i) => [i.task, i.status, i.n]).sort());
      expect(items.some((i) => i.status === 'failed')).toBe(true);

      const batches = await query<{ status: string; n: number }>(h.ctx.db, 'select status, count(*)::int as n from batches group by 1');
      expect(pick(samples, 'batchfleet_batches').reduce((a, s) => a + s.value, 0)).toBe(batches.reduce((a, b) => a + b.n, 0));
      expect(value(samples, 'batchfleet_batches', { task: 'classify-ticket', model: MODEL, status: 'processed' })).toBeGreaterThan(0);

      const cost = await query<{ task: string; cost: string; sync: string }>(
        h.ctx.db,
        `select i.task, sum(a.cost_usd)::text as cost, sum(a.sync_cost_usd)::text as sync from attempts a join items i on i.id = a.item_id group by 1`,
      );
      expect(cost).toHaveLength(2);
      for (const c of cost) {
        expect(value(samples, 'batchfleet_cost_usd_total', { task: c.task })).toBeCloseTo(Number(c.cost), 12);
        expect(value(samples, 'batchfleet_sync_cost_usd_total', { task: c.task })).toBeCloseTo(Number(c.sync), 12);
        expect(value(samples, 'batchfleet_savings_usd_total', { task: c.task })).toBeCloseTo(Number(c.sync) - Number(c.cost), 12);
        expect(Number(c.cost)).toBeGreaterThan(0);
      }

      expect(value(samples, 'batchfleet_budget_reserved_tokens', { model: MODEL })).toBe(await h.ctx.budget.used(MODEL));
      expect(value(samples, 'batchfleet_budget_reserved_tokens', { model: MODEL })).toBe(4_321);
      expect(value(samples, 'batchfleet_budget_reservations', { model: MODEL })).toBe(1);
      const limits = await h.ctx.limits.view(MODEL);
      expect(value(samples, 'batchfleet_budget_limit_tokens', { model: MODEL, kind: 'configured' })).toBe(limits.configured);
      expect(value(samples, 'batchfleet_budget_limit_tokens', { model: MODEL, kind: 'effective' })).toBe(limits.effective);
      expect(value(samples, 'batchfleet_held_batches', { model: MODEL })).toBe(0);
      expect(value(samples, 'batchfleet_stuck_batches')).toBe(0);

      const dead = await query<{ task: string; cause: string; n: number }>(
        h.ctx.db,
        `select task, error_code as cause, count(*)::int as n from items where status = 'failed' group by 1, 2`,
      );
      expect(pick(samples, 'batchfleet_failed_items').map((s) => [s.labels.task, s.labels.cause, s.value]).sort()).toEqual(dead.map((d) => [d.task, d.cause, d.n]).sort());

      const recent = await query<{ n: number }>(h.ctx.db, `select count(*)::int as n from attempts where outcome in ('retry', 'failed')`);
      expect(pick(samples, 'batchfleet_recent_failures').reduce((a, s) => a + s.value, 0)).toBe(recent[0]!.n);

      const [rejections] = await query<{ n: number }>(h.ctx.db, `select count(*)::int as n from rejections where task = 'classify-ticket'`);
      expect(rejections!.n).toBe(1);
      expect(value(samples, 'batchfleet_intake_rejections_total', { task: 'classify-ticket' })).toBe(1);

      const waiting = await h.ctx.queues.resultsFor('classify-ticket').getWaitingCount();
      expect(waiting).toBeGreaterThan(0);
      expect(value(samples, 'batchfleet_queue_jobs', { queue: 'results.classify-ticket', state: 'waiting' })).toBe(waiting);

      const [submitted] = await query<{ n: number }>(h.ctx.db, `select count(*)::int as n from batches where provider_batch_id is not null`);
      expect(value(samples, 'batchfleet_provider_calls_total', { op: 'createBatch', outcome: 'ok' })).toBe(submitted!.n);
    } finally {
      await h.ctx.budget.release(MODEL, reservation);
    }
  }, 300_000);

  it('guards Bull Board with basic auth: 401 without or with wrong credentials, 200 with the right ones', async () => {
    const none = await fetch(`${admin.url}/admin/queues`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Basic/);
    await none.body?.cancel();
    const wrong = await fetch(`${admin.url}/admin/queues`, { headers: basic(USER, 'not-the-password') });
    expect(wrong.status).toBe(401);
    await wrong.body?.cancel();
    const wrongApi = await fetch(`${admin.url}/admin/queues/api/queues`, { headers: basic('admin', PASSWORD) });
    expect(wrongApi.status).toBe(401);
    await wrongApi.body?.cancel();

    const ok = await fetch(`${admin.url}/admin/queues`, { headers: basic(USER, PASSWORD) });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('<base href="/admin/queues/"');
    const api = await fetch(`${admin.url}/admin/queues/api/queues`, { headers: basic(USER, PASSWORD) });
    expect(api.status).toBe(200);
    const names = ((await api.json()) as { queues: Array<{ name: string }> }).queues.map((q) => q.name);
    expect(names).toEqual(expect.arrayContaining(['intake', 'build', 'submit', 'poll', 'process', 'results.classify-ticket', 'results.summarize-article']));
  });

  it('read-only mode answers 405 on a write endpoint (and the writable board does not)', async () => {
    const readOnly = await startAdminServer(h.ctx, { port: 0, host: '127.0.0.1', readOnly: true });
    try {
      const queue = 'results.summarize-article';
      const refused = await fetch(`${readOnly.url}/admin/queues/api/queues/${queue}/pause`, { method: 'PUT', headers: basic(USER, PASSWORD) });
      expect(refused.status).toBe(405);
      await refused.body?.cancel();
      expect(await h.ctx.queues.resultsFor('summarize-article').isPaused()).toBe(false);

      const allowed = await fetch(`${admin.url}/admin/queues/api/queues/${queue}/pause`, { method: 'PUT', headers: basic(USER, PASSWORD) });
      expect(allowed.status).toBeLessThan(300);
      await allowed.body?.cancel();
      expect(await h.ctx.queues.resultsFor('summarize-article').isPaused()).toBe(true);
      await h.ctx.queues.resultsFor('summarize-article').resume();
    } finally {
      await readOnly.close();
    }
  });

  it('disables the board (never serves it open) when no password is configured', async () => {
    const open = await startAdminServer(h.ctx, { port: 0, host: '127.0.0.1', password: null });
    try {
      for (const headers of [{}, basic(USER, PASSWORD)]) {
        const res = await fetch(`${open.url}/admin/queues/api/queues`, { headers });
        expect(res.status).toBe(503);
        expect(await res.text()).toMatch(/ADMIN_PASSWORD is not set/);
      }
      expect((await fetch(`${open.url}/healthz`)).status).toBe(200);
    } finally {
      await open.close();
    }
  });

  it('/healthz and /readyz; /readyz answers 503 naming PostgreSQL when it is unreachable', async () => {
    const health = await fetch(`${admin.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${admin.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready' });

    const badDb = createDb(`postgresql://postgres@127.0.0.1:5432/batchfleet_no_such_db_${randomUUID().slice(0, 8)}`);
    const broken = createContext(h.config, exampleRegistry(), { db: badDb, redis: h.ctx.redis, log: h.ctx.log });
    const server = await startAdminServer(broken, { port: 0, host: '127.0.0.1' });
    try {
      const res = await fetch(`${server.url}/readyz`);
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ status: 'unavailable', failed: ['postgres'] });
    } finally {
      await server.close();
      await broken.close();
      await badDb.$disconnect();
    }
  });
});

// ---------------------------------------------------------------------------------------------

/** Signs like OpenAI (Standard Webhooks): base64 HMAC-SHA256 of `id.timestamp.body`, keyed by the decoded secret. */
function signed(body: string, secret = SECRET, id = `wh_${randomUUID().replace(/-/g, '')}`): Record<string, string> {
  const timestamp = Math.floor(Date.now() / 1000);
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const signature = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
  return { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': `v1,${signature}` };
}

describe('OpenAI webhook receiver', () => {
  const POLL_PARKED_MS = 3_600_000;
  let h: TestHarness;
  let admin: AdminServer;

  beforeAll(async () => {
    // Frozen simulated time and an hour between polls: without the webhook, the batch would not be
    // polled again within any test's timeout, so seeing it processed proves the webhook woke it.
    h = await startHarness({
      simulator: { timeScale: 0 },
      env: { POLL_MIN_MS: String(POLL_PARKED_MS), POLL_MAX_MS: String(POLL_PARKED_MS), ADMIN_PASSWORD: PASSWORD, OPENAI_WEBHOOK_SECRET: SECRET },
    });
    admin = await startAdminServer(h.ctx, { port: 0, host: '127.0.0.1' });
  });

  afterAll(async () => {
    await admin?.close();
    await h?.close();
  });

  it('accepts a correctly signed batch event and promotes the poll, so the batch is processed now; duplicates are harmless', async () => {
    await h.ctx.queues.intake.add('intake', {
      task: 'classify-ticket',
      items: [1, 2, 3, 4].map((i) => ({ externalId: `wh-${i}`, input: { subject: `subject ${i}`, body: `body ${i}` } })),
    });
    const batch = await waitFor('a submitted batch', async () => {
      const [b] = await query<{ id: string; provider_batch_id: string; submission: number }>(
        h.ctx.db,
        `select id::text, provider_batch_id, submission from batches where provider_batch_id is not null`,
      );
      return b;
    });
    const job = await waitFor('the poll job parked for an hour', async () => {
      const j = await h.ctx.queues.poll.getJob(`poll-${batch.id}-${batch.submission}`);
      return j && (await j.getState()) === 'delayed' ? j : null;
    });
    expect(job.data.batchId).toBe(batch.id);

    // The provider finishes the batch; only the webhook tells us before the next poll in an hour.
    h.sim.clock.advance(3_600);
    await h.sim.idle();
    // OpenAI sends batch.completed once the batch is completed: so does this test.
    await waitFor('the provider reporting the batch completed', async () => (await h.ctx.provider.retrieveBatch(batch.provider_batch_id)).status === 'completed');
    expect(await job.getState()).toBe('delayed');
    const body = JSON.stringify({ id: `evt_${randomUUID().replace(/-/g, '')}`, object: 'event', type: 'batch.completed', created_at: Math.floor(Date.now() / 1000), data: { id: batch.provider_batch_id } });
    const headers = signed(body);
    const res = await fetch(`${admin.url}/webhooks/openai`, { method: 'POST', headers, body });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ received: true, outcome: 'promoted', batchId: batch.id, type: 'batch.completed' });
    // Promoted: no longer parked (waiting, or already taken by the poll worker).
    expect(await job.getState()).not.toBe('delayed');

    // The next poll is an hour away: the batch can only be processed within this wait because the
    // webhook promoted the poll. The bound is a failure detector for a loaded machine, not a speed claim.
    await waitFor('the batch processed after the webhook', async () => {
      const [b] = await query<{ status: string }>(h.ctx.db, 'select status from batches where id = $1::uuid', batch.id);
      return b?.status === 'processed';
    }, 120_000);
    const [items] = await query<{ n: number }>(h.ctx.db, `select count(*)::int as n from items where external_id like 'wh-%' and status = 'succeeded'`);
    expect(items!.n).toBe(4);

    // The same delivery again (OpenAI delivers at least once): acknowledged as a duplicate, nothing changes.
    const again = await fetch(`${admin.url}/webhooks/openai`, { method: 'POST', headers, body });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ received: true, outcome: 'duplicate', type: 'batch.completed' });
    const [attempts] = await query<{ n: number }>(h.ctx.db, 'select count(*)::int as n from attempts where batch_id = $1::uuid', batch.id);
    expect(attempts!.n).toBe(4);

    // An event for a batch we do not know is acknowledged and ignored.
    const unknown = JSON.stringify({ id: 'evt_x', object: 'event', type: 'batch.failed', created_at: 1, data: { id: 'batch_unknown' } });
    const ignored = await fetch(`${admin.url}/webhooks/openai`, { method: 'POST', headers: signed(unknown), body: unknown });
    expect(ignored.status).toBe(200);
    expect(await ignored.json()).toMatchObject({ outcome: 'ignored' });
  }, 300_000);

  it('rejects a bad signature with 400 and counts it', async () => {
    const body = JSON.stringify({ id: 'evt_bad', object: 'event', type: 'batch.completed', created_at: 1, data: { id: 'batch_x' } });
    const wrongKey = `whsec_${randomBytes(24).toString('base64')}`;
    const forged = await fetch(`${admin.url}/webhooks/openai`, { method: 'POST', headers: signed(body, wrongKey), body });
    expect(forged.status).toBe(400);
    await forged.body?.cancel();
    const tampered = await fetch(`${admin.url}/webhooks/openai`, { method: 'POST', headers: signed(body), body: body.replace('batch_x', 'batch_y') });
    expect(tampered.status).toBe(400);
    await tampered.body?.cancel();
    const unsigned = await fetch(`${admin.url}/webhooks/openai`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(unsigned.status).toBe(400);
    await unsigned.body?.cancel();

    const { samples } = await scrape(admin);
    expect(value(samples, 'batchfleet_webhook_events_total', { outcome: 'invalid' })).toBe(3);
    expect(value(samples, 'batchfleet_webhook_events_total', { outcome: 'promoted' })).toBe(1);
  });
});
