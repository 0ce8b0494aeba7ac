import { describe, expect, it } from 'vitest';
import { BATCH_STATUSES, batchMachine, type BatchStatus } from '../../src/store/batch-states.ts';
import { ITEM_STATUSES, itemMachine, type ItemStatus } from '../../src/store/item-states.ts';
import { allows, columnsFor, IllegalTransitionError, planTransition, type Machine } from '../../src/store/machine.ts';
import { compile, sql } from '../../src/store/sql.ts';

const AT = new Date('2026-12-04T12:00:00.000Z');

function walk<S extends string, C extends string>(m: Machine<S, C>, statuses: readonly S[]) {
  describe(`the ${m.name} machine`, () => {
    const allowed = m.edges.flatMap((e) => e.from.map((from) => ({ from, to: e.to, sets: columnsFor(m, from, e.to) })));

    it('plans every allowed transition as one guarded UPDATE that sets only its own columns', () => {
      expect(allowed.length).toBeGreaterThan(5);
      for (const { from, to, sets } of allowed) {
        const set = Object.fromEntries(sets.map((c) => [c, null])) as Partial<Record<C, unknown>>;
        const { text, params } = compile(planTransition(m, { from: [from], to, at: AT, set, where: sql`t.id = ${'x'}::uuid` }));
        expect(text).toMatch(new RegExp(`^update ${m.table} t set status = \\$1, ${m.stampColumn} = \\$2::timestamptz`));
        expect(text).toContain(`where t.status in ('${from}')`);
        for (const c of sets) expect(text).toContain(`${c} = `);
        expect(params.slice(0, 2)).toEqual([to, AT.toISOString()]);
      }
    });

    it('refuses every pair the table does not list, before any SQL runs', () => {
      let refused = 0;
      for (const from of statuses) {
        for (const to of statuses) {
          if (allows(m, from, to)) continue;
          expect(() => planTransition(m, { from: [from], to, at: AT, where: sql`true` })).toThrow(IllegalTransitionError);
          refused++;
        }
      }
      expect(refused).toBeGreaterThan(statuses.length);
    });

    it('refuses a column the transition may not set', () => {
      const { from, to } = allowed[0]!;
      expect(() => planTransition(m, { from: [from], to, at: AT, set: { not_a_column: 1 } as never, where: sql`true` })).toThrow(/may not set not_a_column/);
    });

    it('names only known statuses, and every status is reachable or a start', () => {
      const targets = new Set(m.edges.map((e) => e.to));
      const sources = new Set(m.edges.flatMap((e) => e.from));
      for (const s of statuses) expect(targets.has(s) || sources.has(s), s).toBe(true);
    });
  });
}

walk(batchMachine, BATCH_STATUSES);
walk(itemMachine, ITEM_STATUSES);

describe('the transitions that matter most', () => {
  const batch = (from: BatchStatus, to: BatchStatus) => allows(batchMachine, from, to);
  const item = (from: ItemStatus, to: ItemStatus) => allows(itemMachine, from, to);

  it('never lets a batch leave processed, or skip from built to a provider status', () => {
    for (const to of BATCH_STATUSES) expect(batch('processed', to)).toBe(false);
    expect(batch('built', 'in_progress')).toBe(false);
    expect(batch('building', 'submitting')).toBe(false);
  });

  it('lets a terminal batch only be processed, and a token-limit refusal go back to built', () => {
    for (const t of ['completed', 'expired', 'failed', 'cancelled'] as const) {
      expect(BATCH_STATUSES.filter((to) => batch(t, to))).toEqual(['processed']);
    }
    expect(batch('in_progress', 'built')).toBe(true);
  });

  it('keeps a succeeded item final, and lets only an operator re-drive a failed one', () => {
    for (const to of ITEM_STATUSES) expect(item('succeeded', to)).toBe(false);
    expect(ITEM_STATUSES.filter((to) => item('failed', to))).toEqual(['queued']);
    expect(item('queued', 'succeeded')).toBe(false);
  });
});
