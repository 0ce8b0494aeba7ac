import { afterEach, describe, expect, it } from 'vitest';
import { query } from '../../src/store/sql.ts';
import { sampleItems } from '../../src/demo/samples.ts';
import { startHarness, type TestHarness } from '../support/fleet.ts';
import { waitFor } from '../support/wait.ts';

/** The simulator's true enqueued-token limit for gpt-4o-mini in these runs. */
const L = 15_000;

let h: TestHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** ~20 × L tokens of classification work, as 2,000 items of ~150 tokens. */
async function runTwentyTimesTheLimit(configured: number) {
  h = await startHarness({
    scenario: { name: 'small-limit', limits: { enqueuedTokens: { 'gpt-4o-mini': L } } },
    env: { TOKEN_LIMITS: JSON.stringify({ 'gpt-4o-mini': configured }), BUDGET_SAFETY_MARGIN: '0.1' },
  });
  const items = sampleItems('b', 4_000).filter((i) => i.task === 'classify-ticket').map(({ externalId, input }) => ({ externalId, input }));
  await h.ctx.queues.intake.add('intake', { task: 'classify-ticket', items });

  let maxReserved = 0;
  let sawHeld = false;
  await waitFor('every item final', async () => {
    maxReserved = Math.max(maxReserved, await h!.ctx.budget.used('gpt-4o-mini'));
    const [held] = await query<{ n: number }>(h!.ctx.db, `select count(*)::int as n from batches where held_reason like 'token budget%'`);
    sawHeld ||= held!.n > 0;
    const [r] = await query<{ n: number }>(h!.ctx.db, `select count(*)::int as n from items where status in ('succeeded', 'failed')`);
    return r!.n === items.length;
  }, 180_000, 50);

  const [s] = await query<{ tokens: number; succeeded: number; refusals: number; batches: number }>(
    h.ctx.db,
    `select (select sum(estimated_tokens)::int from items) as tokens,
            (select count(*)::int from items where status = 'succeeded') as succeeded,
            (select coalesce(sum(token_limit_failures), 0)::int from batches) as refusals,
            (select count(*)::int from batches) as batches`,
  );
  const learned = await h.ctx.limits.view('gpt-4o-mini');
  return { ...s!, items: items.length, maxReserved, sawHeld, learned };
}

describe('the token budget against a small enqueued-token limit', () => {
  it('works through ~20 × L tokens with every item succeeded and not one token_limit_exceeded', async () => {
    const r = await runTwentyTimesTheLimit(L);
    expect(r.tokens).toBeGreaterThan(19 * L);
    expect(r.succeeded).toBe(r.items);
    expect(r.refusals).toBe(0);
    expect(r.sawHeld).toBe(true);
    expect(r.maxReserved).toBeLessThanOrEqual(L * 0.9);
    expect(r.learned).toMatchObject({ configured: L, learned: null, effective: L * 0.9 });
  }, 240_000);

  it('with the configured limit at twice the true one: learns the real limit, loses nothing, ends with every item succeeded', async () => {
    const r = await runTwentyTimesTheLimit(2 * L);
    expect(r.succeeded).toBe(r.items);
    expect(r.refusals).toBeGreaterThan(0);
    expect(r.learned).toMatchObject({ configured: 2 * L, learned: L, effective: L * 0.9 });
    const [attempts] = await query<{ ran: number; extra: number }>(
      h!.ctx.db,
      `select count(*)::int as ran, count(*) filter (where outcome <> 'succeeded')::int as extra from attempts`,
    );
    expect(attempts).toEqual({ ran: r.items, extra: 0 });
  }, 240_000);
});
