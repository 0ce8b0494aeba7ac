import { poolOf, type DbTx } from './db.ts';

/**
 * A piece of SQL with its parameters kept apart from its text. Written with the `sql` tag, so a
 * value can never be spliced into the text; nested fragments compose, and `compile` numbers the
 * placeholders once, at the end.
 */
export class Sql {
  constructor(
    readonly strings: readonly string[],
    readonly values: readonly unknown[],
  ) {}
}

/** Tagged template: `sql\`select … where id = ${id}::uuid\``. Values become `$n` parameters; nested `Sql` is inlined. */
export function sql(strings: TemplateStringsArray, ...values: unknown[]): Sql {
  return new Sql(strings, values);
}

/** Trusted text spliced as is (identifiers and literals that the store itself chose, never input). */
export function raw(text: string): Sql {
  return new Sql([text], []);
}

/** Joins fragments with a separator. */
export function join(parts: readonly Sql[], separator = ', '): Sql {
  if (parts.length === 0) return raw('');
  const strings: string[] = [''];
  const values: unknown[] = [];
  parts.forEach((p, i) => {
    if (i > 0) strings[strings.length - 1] += separator;
    values.push(p);
    strings.push('');
  });
  return new Sql(strings, values);
}

/** A list of string literals for `in (…)`, from values the store validated (statuses, outcomes). */
export function literals(values: readonly string[]): Sql {
  for (const v of values) if (!/^[a-z_]+$/.test(v)) throw new Error(`not a plain literal: ${v}`);
  return raw(values.map((v) => `'${v}'`).join(', '));
}

/** Numbers the placeholders and flattens nested fragments. Dates travel as ISO strings. */
export function compile(fragment: Sql): { text: string; params: unknown[] } {
  const params: unknown[] = [];
  const walk = (f: Sql): string => {
    let text = f.strings[0]!;
    f.values.forEach((v, i) => {
      if (v instanceof Sql) text += walk(v);
      else {
        params.push(v instanceof Date ? v.toISOString() : v);
        text += `$${params.length}`;
      }
      text += f.strings[i + 1]!;
    });
    return text;
  };
  return { text: walk(fragment), params };
}

/** Runs a statement and returns its rows. */
export function rows<T>(db: DbTx, fragment: Sql): Promise<T[]> {
  const { text, params } = compile(fragment);
  return db.$queryRawUnsafe<T[]>(text, ...params);
}

/**
 * `rows` for the hot set-based statements. On a root client made by `createDb` it runs on the
 * node-postgres pool under Prisma's adapter, skipping Prisma's request path (about 10 ms of CPU per
 * megabyte of parameters, and 0.5 ms per statement); inside a transaction it runs there, through
 * Prisma. Only for statements whose result columns are text, int4, float8, bool, timestamptz or
 * json(b): both drivers return those as the same JavaScript values (int8 and numeric differ).
 */
export async function hotRows<T>(db: DbTx, fragment: Sql): Promise<T[]> {
  const pool = poolOf(db);
  if (!pool) return rows<T>(db, fragment);
  const { text, params } = compile(fragment);
  return (await pool.query(text, params)).rows as T[];
}

/** Runs a statement and returns its first row, if any. */
export async function one<T>(db: DbTx, fragment: Sql): Promise<T | undefined> {
  return (await rows<T>(db, fragment))[0];
}

/** Runs a statement and returns the number of rows it touched. */
export function run(db: DbTx, fragment: Sql): Promise<number> {
  const { text, params } = compile(fragment);
  return db.$executeRawUnsafe(text, ...params);
}

/** Many rows as ONE jsonb parameter, unpacked in SQL with `jsonb_to_recordset`: one statement, not one per row. */
export function rowsParam(list: readonly object[]): string {
  return JSON.stringify(list);
}

/** Plain-text query, for tests and tools that read the tables directly. */
export function query<T>(db: DbTx, text: string, ...params: unknown[]): Promise<T[]> {
  return db.$queryRawUnsafe<T[]>(text, ...params);
}

/** Plain-text statement, for tests and tools; returns the affected row count. */
export function execute(db: DbTx, text: string, ...params: unknown[]): Promise<number> {
  return db.$executeRawUnsafe(text, ...params);
}
