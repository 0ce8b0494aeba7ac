/*
 * Every worker process serves its own /metrics and /healthz on METRICS_PORT: a poll worker, in its own
 * process, is scraped while it polls, and its provider-call counts rise.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleItems } from '../../src/demo/samples.ts';
import countingRegistry, { HOOK_TABLE_SQL } from '../fixtures/counting-tasks.ts';
import { startHarness, type TestHarness } from '../support/fleet.ts';
import { REDIS_URL } from '../support/redis.ts';
import { ProcessGroup, workerEnv } from '../support/processes.ts';
import { waitFor } from '../support/wait.ts';

let h: TestHarness;
let group: ProcessGroup;
let port: number;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

beforeAll(async () => {
  h = await startHarness({ scenario: 'happy', registry: countingRegistry, roles: false });
  await h.database.db.$executeRawUnsafe(HOOK_TABLE_SQL);
  await h.startFleet(['intake', 'build', 'submit', 'process']);
  port = await freePort();
  group = new ProcessGroup(
    workerEnv({ databaseUrl: h.database.url, redisUrl: REDIS_URL, prefix: h.prefix, simulatorUrl: h.sim.url, dataDir: h.config.dataDir }, { METRICS_PORT: String(port) }),
  );
});

afterAll(async () => {
  await group?.stopAll();
  await h?.close();
});

function sample(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('a worker process observable on its own port', () => {
  it('serves /healthz and /metrics with default process metrics, and its provider-call counts rise while it polls', async () => {
    group.start('poll');
    const base = `http://127.0.0.1:${port}`;
    const health = await waitFor('the poll worker answering /healthz', async () => {
      const res = await fetch(`${base}/healthz`);
      return res.ok ? ((await res.json()) as { status: string; roles: string[] }) : null;
    });
    expect(health).toEqual({ status: 'ok', roles: ['poll'] });

    const first = await (await fetch(`${base}/metrics`)).text();
    expect(first).toMatch(/^process_cpu_user_seconds_total /m);
    expect(first).toMatch(/^nodejs_heap_size_used_bytes /m);
    const before = sample(first, 'batchfleet_provider_calls_total', 'op="retrieveBatch"');

    const items = sampleItems('pm', 40).filter((i) => i.task === 'classify-ticket').map(({ externalId, input }) => ({ externalId, input }));
    await h.ctx.queues.intake.add('intake', { task: 'classify-ticket', items });
    const polled = await waitFor('retrieveBatch calls counted by the poll process', async () => {
      const text = await (await fetch(`${base}/metrics`)).text();
      const n = sample(text, 'batchfleet_provider_calls_total', 'op="retrieveBatch",outcome="ok"');
      return n > before ? text : null;
    });
    expect(polled).toMatch(/^batchfleet_poll_latency_seconds_count \d+/m);
    expect(Number(/^batchfleet_poll_latency_seconds_count (\d+)/m.exec(polled)?.[1])).toBeGreaterThan(0);
  });
});
