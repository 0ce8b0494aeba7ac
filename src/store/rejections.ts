import type { DbTx } from './db.ts';
import { run, sql } from './sql.ts';

/** Records a rejected payload or item so it is counted and visible, never silently dropped. */
export async function record(db: DbTx, r: { reason: string; task: string | null; jobId: string | null; at: Date }): Promise<void> {
  await run(db, sql`insert into rejections (reason, task, job_id, created_at) values (${r.reason.slice(0, 2_000)}, ${r.task}, ${r.jobId}, ${r.at}::timestamptz)`);
}
