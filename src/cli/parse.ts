/**
 * Option and argument parsers. Each refusal is a CliError with exit code 2 whose one-line message
 * names the option, the value given and what to write instead. (Commander's own
 * InvalidArgumentError is not used: thrown from an action it would end the run without a word.)
 */
import { CliError } from './io.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(s: string): boolean {
  return UUID.test(s);
}

/** A usage error: exit code 2. */
export function usage(message: string): CliError {
  return new CliError(message, 2);
}

/** `--flag <n>`: a whole number ≥ 1. */
export function positiveInt(flag: string) {
  return (value: string): number => {
    const n = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n) || n <= 0) throw usage(`${flag} "${value}" is not a positive whole number; use e.g. ${flag} 100`);
    return n;
  };
}

const AGE = /^(\d+)\s*(s|m|h|d|w)$/i;
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 } as const;
/** 2026-12-01, 2026-12-01T10:30, 2026-12-01 10:30:00Z, 2026-12-01T10:30:00.5+01:00 */
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

function utcMidnight(d: Date): Date {
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
}

/**
 * A point in time given as an ISO date (`2026-12-01`, UTC midnight) or date-time
 * (`2026-12-01T10:30`, UTC unless it carries an offset), `today` or `yesterday` (UTC midnight),
 * or an age back from `now` (`90m`, `24h`, `7d`, `2w`). Anything else is a usage error naming `flag`.
 */
export function parseWhen(value: string, flag = '--since', now: Date = new Date()): Date {
  const v = value.trim();
  const lower = v.toLowerCase();
  if (lower === 'today') return utcMidnight(now);
  if (lower === 'yesterday') return new Date(utcMidnight(now).getTime() - UNIT_MS.d);
  const age = AGE.exec(v);
  if (age) return new Date(now.getTime() - Number(age[1]) * UNIT_MS[age[2]!.toLowerCase() as keyof typeof UNIT_MS]);
  const iso = ISO.exec(v);
  if (iso) {
    const [, y, mo, d, h = '00', mi = '00', sec = '00', fraction = '', zone = 'Z'] = iso;
    const offset = zone.toUpperCase() === 'Z' ? 'Z' : zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
    const date = new Date(`${y}-${mo}-${d}T${h}:${mi}:${sec}${fraction}${offset}`);
    // Date rolls 2026-02-31 over into March: a day that does not exist is refused instead.
    const real = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d))).toISOString().startsWith(`${y}-${mo}-${d}`);
    if (real && !Number.isNaN(date.getTime())) return date;
  }
  throw usage(`${flag} "${value}" is not a date; use an ISO date (2026-12-01), "today", "yesterday" or a duration like 24h or 7d`);
}

/** `--flag <when>` for commander: see {@link parseWhen}. */
export function when(flag: string) {
  return (value: string): Date => parseWhen(value, flag);
}

/** `--flag <value>`: one of `allowed`. */
export function oneOf<T extends string>(flag: string, allowed: readonly T[], noun = 'value') {
  return (value: string): T => {
    if (!(allowed as readonly string[]).includes(value)) throw usage(`${flag} "${value}" is not a known ${noun}; use one of: ${allowed.join(', ')}`);
    return value as T;
  };
}

export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(',').map((s) => s.trim()).filter(Boolean)];
}
