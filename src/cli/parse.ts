import { InvalidArgumentError } from 'commander';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(s: string): boolean {
  return UUID.test(s);
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

/** A date (`2026-11-01`, UTC midnight), a timestamp (ISO 8601) or a relative age (`90m`, `24h`, `7d`). */
export function sinceDate(value: string, now: Date = new Date()): Date {
  const rel = /^(\d+)\s*(m|h|d)$/i.exec(value.trim());
  if (rel) {
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 }[rel[2]!.toLowerCase() as 'm' | 'h' | 'd'];
    return new Date(now.getTime() - Number(rel[1]) * unit);
  }
  const d = /^\d{4}-\d{2}-\d{2}$/.test(value) ? new Date(`${value}T00:00:00Z`) : new Date(value);
  if (Number.isNaN(d.getTime())) throw new InvalidArgumentError('expected a date (2026-11-01), a timestamp or an age such as 24h or 7d');
  return d;
}

export function oneOf<T extends string>(allowed: readonly T[]) {
  return (value: string): T => {
    if (!(allowed as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of: ${allowed.join(', ')}`);
    return value as T;
  };
}

export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(',').map((s) => s.trim()).filter(Boolean)];
}
