import { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../../src/store/sql.ts';
import { processRegistry } from '../../src/monitoring/provider-metrics.ts';
import { startHarness, type TestHarness } from '../support/fleet.ts';
import { waitFor } from '../support/wait.ts';
import { runHostileIntake, TEMPLATES } from './hostile-intake.ts';

let h: TestHarness;

beforeAll(async () => {
  h = await startHarness({ scenario: 'happy', roles: ['intake'] });
});
afterAll(async () => {
  await h?.close();
});

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const m = (await processRegistry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = (m?.values as Array<{ labels: Record<string, string>; value: number }> | undefined)?.find((x) => Object.entries(labels).every(([k, l]) => x.labels[k] === l));
  return v?.value ?? 0;
}

describe('hostile intake', () => {
  it('stores the good items of a mixed job and rejects each bad one alone, with a rejection row', async () => {
    const job = await h.ctx.queues.intake.add('intake', {
      task: 'classify-ticket',
      items: [
        { externalId: 'mix-1', input: { subject: 'Refund', body: 'Please' } },
        { externalId: 'mix-nul', input: { subject: 'Refund', body: 'a\u0000b' } },
        { externalId: 'mix-2', input: { subject: 'Login', body: 'Cannot log in 😀' } },
        { externalId: 7, input: { subject: 'x', body: 'y' } },
      ],
    });
    await waitFor('the mixed job completed', async () => (await job.getState()) === 'completed');
    const done = await Job.fromId(h.ctx.queues.intake, job.id!);
    expect(done?.returnvalue).toEqual({
      accepted: 2,
      duplicates: 0,
      rejected: [
        { externalId: 'mix-nul', reason: 'input.body contains a NUL character' },
        { externalId: 'items[3]', reason: 'items[3].externalId must be a string, got a number' },
      ],
    });
    const stored = await query<{ external_id: string }>(h.ctx.db, `select external_id from items where external_id like 'mix-%' order by 1`);
    expect(stored.map((r) => r.external_id)).toEqual(['mix-1', 'mix-2']);
    const rows = await query<{ reason: string }>(h.ctx.db, 'select reason from rejections where job_id = $1 order by reason', job.id);
    expect(rows.map((r) => r.reason)).toEqual(['items[3]: items[3].externalId must be a string, got a number', 'mix-nul: input.body contains a NUL character']);
  });

  it(`survives ${Object.keys(TEMPLATES).length * 3} malformed jobs from ${Object.keys(TEMPLATES).length} templates: each rejected on its first attempt or stored with only its bad items rejected`, async () => {
    const before = await metric('batchfleet_jobs_unparseable_total', { queue: 'intake' });
    const f = await runHostileIntake(h, Object.keys(TEMPLATES).length * 3, 'hostile');
    expect(f.violations).toEqual([]);
    expect(f.rejectedJobs).toBeGreaterThan(0);
    expect(f.mixedJobs).toBeGreaterThan(0);
    expect(f.metricsBytes).toBeLessThan(100_000);
    expect(await metric('batchfleet_jobs_unparseable_total', { queue: 'intake' })).toBe(before + 3);
  });
});
