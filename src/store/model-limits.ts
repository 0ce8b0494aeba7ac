import type { DbTx } from './db.ts';
import { one, run, sql } from './sql.ts';

/** The enqueued-token limit learned for a model, or null. */
export async function learned(db: DbTx, model: string): Promise<number | null> {
  const r = await one<{ limit: string }>(db, sql`select learned_limit::text as "limit" from model_limits where model = ${model}`);
  return r ? Number(r.limit) : null;
}

/** Stores a limit the provider reported. */
export async function learn(db: DbTx, model: string, value: number, at: Date): Promise<void> {
  await run(
    db,
    sql`insert into model_limits (model, learned_limit, source, updated_at) values (${model}, ${value}, 'token_limit_exceeded', ${at}::timestamptz)
        on conflict (model) do update set learned_limit = excluded.learned_limit, updated_at = excluded.updated_at`,
  );
}
