/*
 * A state machine as data, and the one guarded write that moves rows through it.
 *
 * Why it works this way: PostgreSQL is the truth and BullMQ runs every job at least once, so a
 * status write must be a conditional UPDATE (`… where status in (<from>)`) that changes nothing
 * when a duplicate job runs it again. `transition()` is the only code that writes a status column:
 * it refuses, before any SQL runs, a move the table does not list and a column the move may not
 * set, then emits one UPDATE for one row or for many rows at once and returns the rows it changed.
 */
import { BatchfleetError } from '../errors.ts';
import { join, literals, raw, rows as runRows, sql, type Sql } from './sql.ts';
import type { DbTx } from './db.ts';

/** One allowed move: from these statuses to that one, and the columns the move may set. */
export interface Edge<S extends string, C extends string> {
  from: readonly S[];
  to: S;
  sets: readonly C[];
  /** What the move means, for the diagram and for readers. */
  why: string;
}

/** A state machine over one table's `status` column. */
export interface Machine<S extends string, C extends string> {
  name: string;
  table: string;
  statuses: readonly S[];
  edges: readonly Edge<S, C>[];
  /** Set on every move to the move's time (e.g. `status_changed_at`). */
  stampColumn: string;
}

/** A move the machine does not allow, or a column that move may not set. Raised before any SQL runs. */
export class IllegalTransitionError extends BatchfleetError {
  constructor(
    readonly machine: string,
    readonly from: readonly string[],
    readonly to: string,
    detail: string,
  ) {
    super(`${machine}: ${from.join('|')} → ${to} ${detail}`);
  }
}

/** Declares a machine; checks that every edge names known statuses. */
export function defineMachine<const S extends string, const C extends string>(m: Machine<S, C>): Machine<S, C> {
  for (const e of m.edges) {
    for (const s of [...e.from, e.to]) if (!m.statuses.includes(s)) throw new Error(`${m.name}: unknown status ${s}`);
  }
  return m;
}

/** Whether the machine has an edge from `from` to `to`. */
export function allows<S extends string, C extends string>(m: Machine<S, C>, from: S, to: S): boolean {
  return m.edges.some((e) => e.to === to && e.from.includes(from));
}

/** The columns a move from `from` to `to` may set (every edge that carries it). */
export function columnsFor<S extends string, C extends string>(m: Machine<S, C>, from: S, to: S): readonly C[] {
  return [...new Set(m.edges.filter((e) => e.to === to && e.from.includes(from)).flatMap((e) => e.sets))];
}

/** A move to make: the guard, the target, what to set, and which rows. */
export interface TransitionSpec<S extends string, C extends string> {
  from: readonly S[];
  to: S;
  /** When the move happens (the injected clock). */
  at: Date;
  /** Column → value or SQL expression. Only columns every `from → to` edge allows. */
  set?: Partial<Record<C, unknown>>;
  /** Which rows, besides the status guard: a condition over the table aliased `t`. */
  where: Sql;
  /** A `with` prefix (CTEs) the condition or the values may use. */
  with?: Sql;
  /** Extra relations for the condition or the values (`update … from <this>`). */
  from_?: Sql;
  /** Columns to return, over `t` (default the id as text). */
  returning?: Sql;
  /**
   * `where` names the rows by primary key (`t.id = …`): the guard is then written as "none of the
   * other statuses" (`statusGuard`), so that the planner reaches the rows through the key.
   */
  byKey?: boolean;
}

/**
 * The status guard `<alias>.status in (<statuses>)`. With `byKey` it is written as the complement,
 * `not in (<every other status>)`, the same rows under the table's CHECK constraint: the planner
 * cannot prove a partial index's status predicate from it, so a statement that names its rows by
 * id reaches them through the primary key. Otherwise a partial index whose statistics lag behind
 * (a claim fills `items_in_batch_idx` long before the next ANALYZE) looks like a few rows, and the
 * planner reads all of it, every in-flight item, for each chunk of 1,000 ids.
 */
export function statusGuard<S extends string, C extends string>(m: Machine<S, C>, alias: string, statuses: readonly S[], byKey = false): Sql {
  if (!byKey) return sql`${raw(alias)}.status in (${literals(statuses)})`;
  const others = m.statuses.filter((s) => !statuses.includes(s));
  return others.length === 0 ? raw('true') : sql`${raw(alias)}.status not in (${literals(others)})`;
}

/** Checks a move against the table and builds its UPDATE without running it. */
export function planTransition<S extends string, C extends string>(m: Machine<S, C>, spec: TransitionSpec<S, C>): Sql {
  if (spec.from.length === 0) throw new IllegalTransitionError(m.name, spec.from, spec.to, 'has no source status');
  for (const f of spec.from) {
    if (!allows(m, f, spec.to)) throw new IllegalTransitionError(m.name, [f], spec.to, 'is not a transition of this machine');
    const allowed = columnsFor(m, f, spec.to);
    for (const col of Object.keys(spec.set ?? {})) {
      if (!allowed.includes(col as C)) throw new IllegalTransitionError(m.name, [f], spec.to, `may not set ${col}`);
    }
  }
  const sets: Sql[] = [sql`status = ${spec.to}`, sql`${raw(m.stampColumn)} = ${spec.at}::timestamptz`];
  for (const [col, value] of Object.entries(spec.set ?? {})) {
    sets.push(sql`${raw(col)} = ${value}`); // an Sql value is an expression, anything else a parameter
  }
  return sql`${spec.with ? sql`with ${spec.with} ` : raw('')}update ${raw(m.table)} t set ${join(sets)}
    ${spec.from_ ? sql`from ${spec.from_}` : raw('')}
    where ${statusGuard(m, 't', spec.from, spec.byKey)} and (${spec.where})
    returning ${spec.returning ?? raw('t.id::text as id')}`;
}

/**
 * Moves the rows matching `spec.where` whose status is one of `spec.from` to `spec.to`, in one
 * conditional UPDATE, and returns the changed rows. Rows in another status are left alone: a
 * duplicate job finds nothing to change.
 */
export function transition<S extends string, C extends string, R = { id: string }>(db: DbTx, m: Machine<S, C>, spec: TransitionSpec<S, C>): Promise<R[]> {
  return runRows<R>(db, planTransition(m, spec));
}
