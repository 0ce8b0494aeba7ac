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
  /**
   * The fleet's median items/s ÷ the other's median over the window. The naive reference runs at the
   * disk's commit pace, which can move by half between rounds; one odd round moves this less than
   * the median of the per-round ratios.
   */
  ofMedians: number;
}

const round2 = (x: number): number => Number(x.toFixed(2));

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  return round2(sorted.length % 2 ? sorted[Math.floor(mid)]! : (sorted[mid - 1]! + sorted[mid]!) / 2);
}

export function ratios(runs: RunResult[], against: 'reference' | 'floor'): RatioSummary | null {
  const out: number[] = [];
  for (const f of runs.filter((r) => r.kind === 'fleet')) {
    const ref = runs.find((r) => r.kind === against && r.run === f.run);
    if (ref) out.push(round2(f.itemsPerSecond / ref.itemsPerSecond));
  }
  if (out.length === 0) return null;
  const speeds = (kind: string) => runs.filter((r) => r.kind === kind).map((r) => r.itemsPerSecond);
  const ofMedians = round2(median(speeds('fleet')) / median(speeds(against)));
  return { against, ratios: out, median: median(out), min: Math.min(...out), max: Math.max(...out), ofMedians };
}

/**
 * Fleet + PostgreSQL CPU per 10,000 items against the floor's, round by round. The absolute figure
 * moves with the machine (a slower CPU raises both); the share of the floor's is what compares
 * across machines and windows. The floor's process CPU includes its set-up (loading the tokenizer,
 * generating the items and the provider's output file), which the fleet's figure has no part of.
 * Its timed phases run on one thread, so their CPU is at most their wall time: that bound, plus its
 * PostgreSQL backends, is the floor's figure here. The bound counts the floor's waits on
 * PostgreSQL too, so the share can err low by up to the floor's PostgreSQL share (about a tenth).
 */
export interface CpuSummary {
  fleet: number[];
  floor: number[];
  /** fleet ÷ floor, per round with both. */
  shareOfFloor: number[];
  medianFleet: number;
  medianFloor: number | null;
  medianShareOfFloor: number | null;
}

export function cpuSummary(runs: RunResult[]): CpuSummary | null {
  const fleets = runs.filter((r) => r.kind === 'fleet');
  if (fleets.length === 0) return null;
  const floors = runs.filter((r) => r.kind === 'floor');
  const fleetCpu = (r: RunResult) => r.cpuPer10k.processPlusPostgres;
  const floorCpu = (r: RunResult) => Math.min(r.cpuPer10k.process, 10_000 / r.itemsPerSecond) + r.cpuPer10k.postgres;
  const share: number[] = [];
  for (const f of fleets) {
    const fl = floors.find((r) => r.run === f.run);
    if (fl) share.push(round2(fleetCpu(f) / floorCpu(fl)));
  }
  return {
    fleet: fleets.map((r) => round2(fleetCpu(r))),
    floor: floors.map((r) => round2(floorCpu(r))),
    shareOfFloor: share,
    medianFleet: median(fleets.map(fleetCpu)),
    medianFloor: floors.length ? median(floors.map(floorCpu)) : null,
    medianShareOfFloor: share.length ? median(share) : null,
  };
}

export function cpuLine(s: CpuSummary): string {
  const floor = s.medianFloor === null ? '' : `; the floor's timed phases: median ${s.medianFloor} (runs ${s.floor.join(', ')})`;
  const share = s.medianShareOfFloor === null ? '' : `; fleet / floor CPU: median ${s.medianShareOfFloor} (runs ${s.shareOfFloor.join(', ')})`;
  return `fleet + PostgreSQL CPU-s per 10k items: median ${s.medianFleet} (runs ${s.fleet.join(', ')})${floor}${share}`;
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
    .map((s) => `fleet / ${s.against}: median ${s.median}x (runs ${s.ratios.join(', ')}; spread ${s.min}-${s.max}); of the medians' items/s ${s.ofMedians}x`)
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
