import { it } from 'vitest';
import { query } from '../../src/db/sql.ts';
import { runChaos } from './chaos.ts';
it('probe2', async () => {
  const f = await runChaos({ items: 3000, kills: Number(process.env.KILLS ?? 0), seed: Number(process.env.SEED ?? 20261122), killGapMs: [400, 1600], redisLoss: process.env.LOSS === '1', log: (l) => console.log(l),
    inspect: async (h) => {
      const bad = await query(h.ctx.db, `select b.id, b.status, b.provider_status, b.provider_batch_id, b.output_file_id, b.error_file_id, b.request_count, b.completed_count, b.failed_count, b.errors, b.last_error, b.created_at, b.submitted_at, b.terminal_at, b.processed_at, b.status_changed_at,
        (select min(created_at) from attempts a where a.batch_id=b.id) as first_attempt
        from batches b where exists (select 1 from attempts a where a.batch_id = b.id and a.outcome='not_executed')`);
      console.log('SUSPECT', JSON.stringify(bad, null, 1));
    } });
  console.log(JSON.stringify({ ...f, processReport: undefined }, null, 1));
  if (f.violations.length) console.log(f.processReport);
}, 300_000);
