/** The bench's table and summary: plain text, fixed columns. */
import type { RunResult } from './e2e.ts';
import type { StageResult } from './stages.ts';

const pad = (s: unknown, w: number): string => String(s ?? '-').padStart(w);
const fmt = (x: number | null | undefined, d = 2): string => (x === null || x === undefined ? '-' : x.toFixed(d));

/** Ratio of the fleet to a reference, over the interleaved runs. */
export interface RatioSummary {
  against: 'reference' | 'floor';
  ratios: number[];
  median: number;
  min: number;
  max: number;
}

export function ratios(runs: RunResult[], against: 'reference' | 'floor'): RatioSummary | null {
  const out: number[] = [];
  for (const f of runs.filter((r) => r.kind === 'fleet')) {
    const ref = runs.find((r) => r.kind === against && r.run === f.run);
    if (ref) out.push(Number((f.itemsPerSecond / ref.itemsPerSecond).toFixed(2)));
  }
  if (out.length === 0) return null;
  const sorted = [...out].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  const median = sorted.length % 2 ? sorted[Math.floor(mid)]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { against, ratios: out, median: Number(median.toFixed(2)), min: sorted[0]!, max: sorted.at(-1)! };
}

export function runTable(runs: RunResult[]): string {
  const head =
    `${'kind'.padEnd(9)} ${pad('run', 3)} ${pad('items', 7)} ${pad('sec', 7)} ${pad('items/s', 8)} ` +
    `${pad('cpu/10k:proc', 12)} ${pad('pg', 6)} ${pad('redis', 6)} ${pad('provider', 8)} ${pad('cores', 5)} ` +
    `${pad('peakRSS MB', 14)} ${pad('sql/item', 8)} ${pad('xact/item', 9)} ${pad('redis/item', 10)} ${pad('calls/batch', 11)} ${pad('batches', 7)} ${pad('idle', 5)} ok`;
  const lines = [head];
  for (const r of runs) {
    lines.push(
      `${r.kind.padEnd(9)} ${pad(r.run, 3)} ${pad(r.items, 7)} ${pad(fmt(r.seconds), 7)} ${pad(r.itemsPerSecond, 8)} ` +
        `${pad(fmt(r.cpuPer10k.process), 12)} ${pad(fmt(r.cpuPer10k.postgres), 6)} ${pad(fmt(r.cpuPer10k.redis), 6)} ${pad(fmt(r.cpuPer10k.provider), 8)} ${pad(fmt(r.coresBusy), 5)} ` +
        `${pad(Object.values(r.peakRssMb).join('/'), 14)} ${pad(fmt(r.sqlStatementsPerItem, 3), 8)} ${pad(fmt(r.transactionsPerItem, 3), 9)} ` +
        `${pad(fmt(r.redisCommandsPerItem), 10)} ${pad(fmt(r.providerCallsPerBatch, 1), 11)} ${pad(r.batches, 7)} ${pad(fmt(r.idleShare), 5)} ${r.ok ? 'ok' : 'FAIL'}`,
    );
  }
  return lines.join('\n');
}

/** Fleet processes' resident set as the items became final, one line per run. */
export function rssLines(runs: RunResult[]): string {
  return runs
    .filter((r) => r.rssMbByProgress && Object.keys(r.rssMbByProgress).length > 0)
    .map((r) => `fleet run ${r.run} RSS MB as items became final: ${Object.entries(r.rssMbByProgress!).map(([at, byProc]) => `${at} ${Object.values(byProc).join('/')}`).join(', ')}`)
    .join('\n');
}

/** Each fleet run's batches: requests, then seconds at claim > built > submitted > ended > processed. */
export function timelineLines(runs: RunResult[]): string {
  const t = (v: number | null) => (v === null ? '-' : v.toFixed(1));
  return runs
    .filter((r) => r.batchTimeline && r.batchTimeline.length > 0)
    .map((r) => `fleet run ${r.run} intake stored items at ${r.intakeTimeline ? `${t(r.intakeTimeline.first)} s (first), ${t(r.intakeTimeline.median)} (median), ${t(r.intakeTimeline.last)} (last)` : '-'};`
      + `\n  batches (requests: s claimed>built>submitted>ended>processed): ${r.batchTimeline!
      .map((b) => `${b.requests ?? '?'}: ${[b.claimed, b.built, b.submitted, b.ended, b.processed].map(t).join('>')}`)
      .join(' | ')}`)
    .join('\n');
}

export function ratioLines(summaries: Array<RatioSummary | null>): string {
  return summaries
    .filter((s): s is RatioSummary => s !== null)
    .map((s) => `fleet / ${s.against}: median ${s.median}x (runs ${s.ratios.join(', ')}; spread ${s.min}-${s.max})`)
    .join('\n');
}

export function stageTable(stages: StageResult[]): string {
  const lines = [`${'stage'.padEnd(58)} ${pad('units', 8)} ${pad('sec', 8)} ${pad('per s', 9)} ${pad('cpu/10k:proc', 12)} ${pad('pg', 6)}  detail`];
  for (const s of stages) {
    const detail = s.detail ? Object.entries(s.detail).map(([k, v]) => `${k} ${v}`).join(', ') : '';
    const cpu = s.cpuPer10k ? `${pad(fmt(s.cpuPer10k.process, 3), 12)} ${pad(fmt(s.cpuPer10k.postgres, 3), 6)}` : `${pad('-', 12)} ${pad('-', 6)}`;
    lines.push(`${s.stage.padEnd(58)} ${pad(s.units, 8)} ${pad(fmt(s.seconds, 3), 8)} ${pad(s.perSecond, 9)} ${cpu}  ${s.unit}${detail ? `; ${detail}` : ''}`);
  }
  return lines.join('\n');
}
