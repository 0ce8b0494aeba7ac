/*
 * Redis keeps few finished intake jobs. Once an intake job completes its items are in PostgreSQL,
 * and its payload (about 1 MB for 1,000 tickets) would otherwise stay in Redis: forever for a job
 * added without options, as BullMQ keeps it by default. 110 jobs go through the intake role, added
 * with no options (as a producer in another language would) and through the pipeline's own queue;
 * every item is stored and only the newest 100 completed jobs are kept.
 */
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INTAKE_RETENTION } from '../../src/queues/intake-jobs.ts';
import { QUEUES } from '../../src/queues/names.ts';
import { query } from '../../src/store/sql.ts';
import { startHarness, type TestHarness } from '../support/fleet.ts';
import { waitFor } from '../support/wait.ts';

const JOBS = 110;
const KEPT = INTAKE_RETENTION.removeOnComplete.count;
let h: TestHarness;
let bare: Queue;

beforeAll(async () => {
  h = await startHarness({ roles: ['intake'] });
  bare = new Queue(QUEUES.intake, { connection: h.ctx.redis, prefix: h.prefix });
});
afterAll(async () => {
  await bare?.close();
  await h?.close();
});

const ticket = (i: number) => ({ task: 'classify-ticket', items: [{ externalId: `ret-${i}`, input: { subject: `Ticket ${i}`, body: 'I cannot log in since the update.' } }] });

describe('finished intake jobs in Redis', () => {
  it(`keeps the newest ${KEPT} completed jobs, whoever added them, and stores every item`, async () => {
    expect(KEPT).toBeLessThan(JOBS);
    const added = [];
    for (let i = 0; i < JOBS; i++) added.push(await (i % 2 ? bare.add('intake', ticket(i)) : h.ctx.queues.intake.add('intake', ticket(i))));
    await waitFor(`all ${JOBS} items stored`, async () => {
      const [r] = await query<{ n: number }>(h.ctx.db, `select count(*)::int as n from items where external_id like 'ret-%'`);
      return r!.n === JOBS;
    });
    await waitFor('every intake job finished', async () => {
      const c = await bare.getJobCounts('active', 'wait', 'prioritized', 'delayed');
      return Object.values(c).every((n) => n === 0);
    });
    const counts = await bare.getJobCounts('completed', 'failed');
    expect(counts).toEqual({ completed: KEPT, failed: 0 });
    // The kept ones are the newest: the last job added is there, the first is gone with its payload.
    expect(await bare.getJob(added.at(-1)!.id!)).toBeDefined();
    expect(await bare.getJob(added[0]!.id!)).toBeUndefined();
    expect(await h.ctx.redis.exists(`${h.prefix}:${QUEUES.intake}:${added[0]!.id!}`)).toBe(0);
  });
});
