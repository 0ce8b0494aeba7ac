import { afterAll, it, expect } from 'vitest';
import { query } from '../../src/db/sql.ts';
import { sampleItems } from '../../src/demo/samples.ts';
import { ROLES } from '../../src/queues/names.ts';
import countingRegistry, { HOOK_TABLE_SQL } from '../fixtures/counting-tasks.ts';
import { startHarness, REDIS_URL, type TestHarness } from '../support/fleet.ts';
import { ProcessGroup, workerEnv, waitForWorkers } from '../support/processes.ts';
import { waitFor } from '../support/wait.ts';

let h: TestHarness; let g: ProcessGroup;
afterAll(async () => { await g?.stopAll(); await h?.close(); });
it('probe', async () => {
  h = await startHarness({ scenario: 'happy', registry: countingRegistry, roles: false });
  await h.database.db.$executeRawUnsafe(HOOK_TABLE_SQL);
  g = new ProcessGroup(workerEnv({ databaseUrl: h.database.url, redisUrl: REDIS_URL, prefix: h.prefix, simulatorUrl: h.sim.url, dataDir: h.config.dataDir }));
  const t0 = Date.now();
  g.startEach(ROLES, Number(process.env.PER ?? 1));
  try {
    await waitForWorkers(h.ctx.queues, Object.fromEntries(ROLES.map((r) => [r, Number(process.env.PER ?? 1)])));
    console.log('ready after', Date.now() - t0);
    const N = Number(process.env.N ?? 500);
    const items = sampleItems('p', N);
    const t1 = Date.now();
    for (const task of ['classify-ticket', 'summarize-article']) {
      const mine = items.filter((i) => i.task === task).map(({ externalId, input }) => ({ externalId, input }));
      const jobs = [];
      for (let i = 0; i < mine.length; i += 500) jobs.push({ name: 'intake', data: { task, items: mine.slice(i, i + 500) } });
      await h.ctx.queues.intake.addBulk(jobs);
    }
    let peak = 0;
    await waitFor('final', async () => {
      const [c] = await query<{ n: number }>(h.ctx.db, `select count(*)::int as n from pg_stat_activity`);
      peak = Math.max(peak, c!.n);
      const [r] = await query<{ n: number; s: number }>(h.ctx.db, `select count(*) filter (where status in ('succeeded','failed'))::int as n, count(*)::int as s from items`);
      return r!.n === N;
    }, 170_000, 500);
    const b = await query(h.ctx.db, `select status, count(*)::int, sum(request_count)::int from batches group by 1`);
    console.log('done after', Date.now() - t1, 'peak pg conns', peak, b);
    console.log(await query(h.ctx.db, `select outcome, error_code, count(*)::int from attempts group by 1,2`));
    const c = Object.values(h.sim.stats().clients)[0]!;
    console.log('sim', c.batchesCreated, c.customIds);
  } catch (e) { console.error(g.report()); throw e; }
}, 200_000);
