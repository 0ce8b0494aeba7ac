/** Text rendering for the CLI's human output: one table style (cli-table3, no borders) for every command. */
import Table from 'cli-table3';

export type Cell = string | number | boolean | null | undefined | Date;

function cellText(v: Cell): string {
  if (v === null || v === undefined || v === '') return '-';
  if (v instanceof Date) return dateTime(v);
  return String(v);
}

/** No box: columns two spaces apart, the header row in capitals, nothing else. */
const CHARS = {
  top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
  bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
  left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '  ',
};

const NUMERIC = /^[$-]?[\d.,]+%?$/;

/**
 * The CLI's table: numbers (and money, percentages, `-`) right-aligned, text left-aligned, `-` for
 * empty cells, headers in capitals. Every command's tables go through here.
 */
export function table(headers: string[], rows: Cell[][]): string {
  const text = rows.map((r) => headers.map((_, i) => cellText(r[i])));
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number' || r[i] === null || r[i] === undefined || NUMERIC.test(cellText(r[i]))));
  const t = new Table({
    head: headers.map((h) => h.toUpperCase()),
    chars: CHARS,
    colAligns: numeric.map((n) => (n ? 'right' : 'left')),
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0, compact: true },
  });
  t.push(...text);
  return t
    .toString()
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n');
}

/** `key: value` lines, keys aligned. */
export function keyValues(pairs: Array<[string, Cell]>): string {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${cellText(v)}`).join('\n');
}

export function usd(n: number | null | undefined): string {
  if (n === null || n === undefined) return '-';
  const abs = Math.abs(n);
  return `$${n.toFixed(abs === 0 ? 2 : abs < 1 ? 6 : 2)}`;
}

export function percent(n: number): string {
  return `${n.toFixed(2)}%`;
}

export function int(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** 45s, 12m05s, 3h02m, 2d04h. */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

/** 2026-11-22 02:31:07Z */
export function dateTime(d: Date | string | null | undefined): string {
  if (!d) return '-';
  const date = d instanceof Date ? d : new Date(d);
  return `${date.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/** Counts as `a 3  b 5`. */
export function inline(counts: Record<string, number>): string {
  const entries = Object.entries(counts);
  return entries.length === 0 ? '(none)' : entries.map(([k, v]) => `${k} ${v}`).join('  ');
}
