/*
 * The admin server as the internet meets it: metric labels only from the task registry, optional
 * /metrics auth, webhook body limit, strict header formats and replay dedupe, a bland /readyz, a
 * loopback default address and throttled basic-auth failures.
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdminServer, type AdminServer } from '../../src/admin/index.ts';
import { createDb } from '../../src/store/db.ts';
import { execute } from '../../src/store/sql.ts';
import { createContext } from '../../src/runtime/context.ts';
import { exampleRegistry } from '../../src/tasks/index.ts';
import { startHarness, type TestHarness } from '../support/fleet.ts';

const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const PASSWORD = randomUUID();
const TOKEN = randomUUID();

let h: TestHarness;
let admin: AdminServer;

beforeAll(async () => {
  h = await startHarness({ roles: false, env: { ADMIN_PASSWORD: PASSWORD, OPENAI_WEBHOOK_SECRET: SECRET } });
  admin = await startAdminServer(h.ctx, { port: 0 });
});
afterAll(async () => {
  await admin?.close();
  await h?.close();
});

function signed(body: string, opts: { id?: string; timestamp?: string; signature?: (sig: string) => string } = {}): Record<string, string> {
  const id = opts.id ?? `wh_${randomUUID().replace(/-/g, '')}`;
  const timestamp = opts.timestamp ?? String(Math.floor(Date.now() / 1000));
  const key = Buffer.from(SECRET.replace(/^whsec_/, ''), 'base64');
  const sig = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
  return { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': opts.signature ? opts.signature(sig) : `v1,${sig}` };
}

const event = (id = 'batch_unknown') => JSON.stringify({ id: `evt_${randomUUID()}`, object: 'event', type: 'batch.completed', created_at: 1, data: { id } });

async function post(headers: Record<string, string>, body: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${admin.url}/webhooks/openai`, { method: 'POST', headers, body });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('admin surface', () => {
  it('listens on loopback unless told otherwise', () => {
    expect(admin.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(h.config.admin.host).toBe('127.0.0.1');
  });

  it('labels metrics only with registered task names; anything else is counted as "unknown"', async () => {
    for (const task of ['t'.repeat(100_000), 'evil\nlabel', 'classify-ticket', null]) {
      await execute(h.ctx.db, 'insert into rejections (reason, task, job_id) values ($1, $2, $3)', 'test', task, null);
    }
    const text = await (await fetch(`${admin.url}/metrics`)).text();
    const lines = text.split('\n').filter((l) => l.startsWith('batchfleet_intake_rejections_total{'));
    expect(lines.sort()).toEqual(['batchfleet_intake_rejections_total{task="classify-ticket"} 1', 'batchfleet_intake_rejections_total{task="unknown"} 3']);
    expect(Math.max(...text.split('\n').map((l) => l.length))).toBeLessThan(1_000);
  });

  it('requires a bearer token for /metrics when METRICS_TOKEN is set', async () => {
    const guarded = await startAdminServer(h.ctx, { port: 0, metricsToken: TOKEN });
    try {
      const anonymous = await fetch(`${guarded.url}/metrics`);
      expect(anonymous.status).toBe(401);
      await anonymous.body?.cancel();
      const ok = await fetch(`${guarded.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('batchfleet_items');
      const health = await fetch(`${guarded.url}/healthz`);
      expect(health.status).toBe(200);
      await health.body?.cancel();
    } finally {
      await guarded.close();
    }
  });

  it('refuses webhook headers with loose formats before checking the signature', async () => {
    const body = event();
    const noPrefix = await post(signed(body, { signature: (s) => s }), body);
    expect(noPrefix).toEqual({ status: 400, json: { error: expect.stringContaining('webhook-signature must be "v1,<base64>"') } });
    const badTimestamp = await post(signed(body, { timestamp: `${Math.floor(Date.now() / 1000)}abc` }), body);
    expect(badTimestamp).toEqual({ status: 400, json: { error: expect.stringContaining('webhook-timestamp must be all digits') } });
    const badId = await post(signed(body, { id: '' }), body);
    expect(badId.status).toBe(400);
    const good = await post(signed(body), body);
    expect(good).toMatchObject({ status: 200, json: { received: true, outcome: 'ignored' } });
  });

  it('acts on a delivery once: a replayed webhook-id is acknowledged as a duplicate', async () => {
    const body = event();
    const headers = signed(body);
    expect((await post(headers, body)).json).toMatchObject({ received: true, outcome: 'ignored' });
    expect((await post(headers, body)).json).toMatchObject({ received: true, outcome: 'duplicate' });
    expect(await h.ctx.redis.ttl(`${h.prefix}:webhook-seen:${(await import('node:crypto')).createHash('sha256').update(headers['webhook-id']!).digest('hex').slice(0, 32)}`)).toBeGreaterThan(500);
  });

  it('refuses a body over 1 MB, declared or streamed, without reading it', async () => {
    // Own connections (agent: false): the server closes them after a 413, so they must not be pooled.
    const send = (declare: boolean) =>
      new Promise<number>((resolve, reject) => {
        const url = new URL(`${admin.url}/webhooks/openai`);
        const total = 4 * 1_048_576;
        const headers = { ...signed('large'), ...(declare ? { 'content-length': String(total) } : {}) };
        const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers, agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        const chunk = Buffer.alloc(64 * 1024, 'y');
        let sent = 0;
        const pump = () => {
          while (sent < total) {
            sent += chunk.length;
            if (!req.write(chunk)) return void req.once('drain', pump);
          }
          req.end();
        };
        pump();
      });
    expect(await send(true)).toBe(413);
    expect(await send(false)).toBe(413);
  });

  it('answers /readyz with names only, never driver error text', async () => {
    const broken = createContext(h.config, exampleRegistry(), { db: createDb('postgresql://nobody:secret-pw@127.0.0.1:1/none'), redis: h.ctx.redis, log: h.ctx.log });
    const server = await startAdminServer(broken, { port: 0 });
    try {
      const res = await fetch(`${server.url}/readyz`);
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ status: 'unavailable', failed: ['postgres'] });
    } finally {
      await server.close();
      await broken.db.$disconnect();
    }
  });

  it('throttles failed basic-auth attempts with 429 and Retry-After', async () => {
    const wrong = { authorization: `Basic ${Buffer.from('admin:wrong').toString('base64')}` };
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) {
      const res = await fetch(`${admin.url}/admin/queues`, { headers: wrong });
      statuses.push(res.status);
      if (i === 10) expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      await res.body?.cancel();
    }
    expect(statuses.join(",")).toBe([...Array(10).fill(401), 429].join(","));
    // Even the right password waits out the window: the throttle answers before credentials are checked.
    const right = await fetch(`${admin.url}/admin/queues`, { headers: { authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}` } });
    expect(right.status).toBe(429);
    await right.body?.cancel();
  });
});
