/**
 * "What would Batch have saved me?" from past synchronous usage records (JSONL, one record per
 * line, streamed: a file is never read whole).
 *
 * Each line is `{ model, input_tokens, output_tokens, cached_tokens? }` or an OpenAI-usage-shaped
 * `{ model, usage: { prompt_tokens, completion_tokens, prompt_tokens_details: { cached_tokens } } }`
 * (see `usage.ts`). Blank lines are skipped. A line that cannot be read (bad JSON, missing or bad
 * field, output tokens on an embedding model) is counted as bad, with its line number kept for the
 * first `maxSamples` of them; it never stops the estimate. A line whose model has no price entry is
 * counted under `unknownModels` and is NOT costed (never silently at zero), so the totals cover
 * priced lines only. Sums are exact (pico-USD); see `cost.ts`.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { costOfPicoUsd, picoUsdToNumber } from './cost.ts';
import { SEED_PRICE_TABLE, findModelPrice, normalizeModelName, type PriceTable } from './price-table.ts';
import { usageRecordFrom } from './usage.ts';

/** Default number of bad / unknown-model line numbers kept as samples. */
export const DEFAULT_MAX_SAMPLES = 20;

/** Options of {@link estimateSavings}. */
export interface SavingsEstimateOptions {
  /** Price table to cost with. @defaultValue the seeded table */
  table?: PriceTable;
  /** How many bad lines (and line numbers per unknown model) to keep. @defaultValue 20 */
  maxSamples?: number;
}

/** Requests, tokens and costs of a group of priced lines. */
export interface SavingsFigures {
  requests: number;
  inputTokens: number;
  /** Part of `inputTokens` that was cached. */
  cachedTokens: number;
  outputTokens: number;
  /** `inputTokens + outputTokens`. */
  totalTokens: number;
  /** What the requests cost synchronously, USD. */
  syncCostUsd: number;
  /** What the same usage costs through the Batch API, USD. */
  batchCostUsd: number;
  /** `syncCostUsd - batchCostUsd`, computed exactly, USD. */
  savingsUsd: number;
  /** `savings / sync × 100`, rounded to 2 decimals; 0 when sync cost is 0. */
  savingsPct: number;
}

/** Figures of one price-table entry. */
export interface ModelSavings extends SavingsFigures {
  /** The price-table entry (`gpt-4o-mini` for `gpt-4o-mini-2024-07-18`). */
  model: string;
  /** Model names as they appeared in the records, sorted. */
  seenAs: string[];
}

/** Lines whose model has no price: counted, not costed. */
export interface UnknownModelUsage {
  /** Model name as written (first spelling seen). */
  model: string;
  requests: number;
  inputTokens: number;
  cachedTokens: number;
  outputTokens: number;
  /** First line numbers (1-based) with this model. */
  lines: number[];
}

/** A line that could not be read. */
export interface BadLine {
  /** 1-based line number. */
  line: number;
  reason: string;
}

/** Result of {@link estimateSavings}. */
export interface SavingsReport {
  /** Version of the price table used. */
  priceTableVersion: string;
  /** Lines read, blank ones included. */
  lines: number;
  blankLines: number;
  /** One row per price-table entry, sorted by name. */
  byModel: ModelSavings[];
  /** Sum over `byModel` (priced lines only). */
  total: SavingsFigures;
  /** Models without a price, sorted by name; not in `total`. */
  unknownModels: UnknownModelUsage[];
  /** `count` bad lines; `samples` are the first `maxSamples`. */
  badLines: { count: number; samples: BadLine[] };
}

interface Acc {
  requests: number;
  inputTokens: number;
  cachedTokens: number;
  outputTokens: number;
  syncPico: bigint;
  batchPico: bigint;
}

const newAcc = (): Acc => ({ requests: 0, inputTokens: 0, cachedTokens: 0, outputTokens: 0, syncPico: 0n, batchPico: 0n });

function pctHundredths(savings: bigint, sync: bigint): number {
  if (sync === 0n) return 0;
  const sign = savings < 0n ? -1n : 1n;
  const abs = savings * sign;
  // round half away from zero to 1/100 of a percent
  const hundredths = (abs * 20_000n + sync) / (2n * sync);
  return Number(hundredths * sign) / 100;
}

function figures(a: Acc): SavingsFigures {
  const savings = a.syncPico - a.batchPico;
  return {
    requests: a.requests,
    inputTokens: a.inputTokens,
    cachedTokens: a.cachedTokens,
    outputTokens: a.outputTokens,
    totalTokens: a.inputTokens + a.outputTokens,
    syncCostUsd: picoUsdToNumber(a.syncPico),
    batchCostUsd: picoUsdToNumber(a.batchPico),
    savingsUsd: picoUsdToNumber(savings),
    savingsPct: pctHundredths(savings, a.syncPico),
  };
}

/** Lines of a file, streamed (never read whole). */
async function* fileLines(path: string): AsyncGenerator<string> {
  const input = createReadStream(path, { encoding: 'utf8' });
  const rl = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of rl) yield line;
  } finally {
    rl.close();
    input.destroy();
  }
}

/**
 * Estimates what past synchronous usage would have cost through the Batch API.
 * @param source a JSONL file path (streamed line by line), or an (async) iterable of lines.
 */
export async function estimateSavings(
  source: string | AsyncIterable<string> | Iterable<string>,
  options: SavingsEstimateOptions = {},
): Promise<SavingsReport> {
  const table = options.table ?? SEED_PRICE_TABLE;
  const maxSamples = Math.max(0, Math.floor(options.maxSamples ?? DEFAULT_MAX_SAMPLES));
  const lines = typeof source === 'string' ? fileLines(source) : source;

  const byKey = new Map<string, { acc: Acc; seenAs: Set<string> }>();
  const unknown = new Map<string, UnknownModelUsage>();
  const badSamples: BadLine[] = [];
  let badCount = 0;
  let lineNo = 0;
  let blank = 0;

  const bad = (reason: string): void => {
    badCount += 1;
    if (badSamples.length < maxSamples) badSamples.push({ line: lineNo, reason });
  };

  for await (const raw of lines) {
    lineNo += 1;
    let text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (lineNo === 1 && text.startsWith('\uFEFF')) text = text.slice(1);
    if (text.trim() === '') {
      blank += 1;
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      bad('invalid JSON');
      continue;
    }
    let record;
    try {
      record = usageRecordFrom(value);
    } catch (e) {
      bad((e as Error).message);
      continue;
    }
    const { model, usage } = record;
    const found = findModelPrice(model, table);
    if (!found) {
      const name = normalizeModelName(model);
      let u = unknown.get(name);
      if (!u) {
        u = { model: model.trim(), requests: 0, inputTokens: 0, cachedTokens: 0, outputTokens: 0, lines: [] };
        unknown.set(name, u);
      }
      u.requests += 1;
      u.inputTokens += usage.inputTokens;
      u.cachedTokens += usage.cachedTokens;
      u.outputTokens += usage.outputTokens;
      if (u.lines.length < maxSamples) u.lines.push(lineNo);
      continue;
    }
    let syncPico: bigint;
    let batchPico: bigint;
    try {
      syncPico = costOfPicoUsd(usage, found.price, 'sync', model);
      batchPico = costOfPicoUsd(usage, found.price, 'batch', model);
    } catch (e) {
      bad((e as Error).message);
      continue;
    }
    let group = byKey.get(found.key);
    if (!group) {
      group = { acc: newAcc(), seenAs: new Set() };
      byKey.set(found.key, group);
    }
    const a = group.acc;
    a.requests += 1;
    a.inputTokens += usage.inputTokens;
    a.cachedTokens += usage.cachedTokens;
    a.outputTokens += usage.outputTokens;
    a.syncPico += syncPico;
    a.batchPico += batchPico;
    group.seenAs.add(model.trim());
  }

  const total = newAcc();
  const byModel: ModelSavings[] = [...byKey.entries()]
    .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
    .map(([key, { acc, seenAs }]) => {
      total.requests += acc.requests;
      total.inputTokens += acc.inputTokens;
      total.cachedTokens += acc.cachedTokens;
      total.outputTokens += acc.outputTokens;
      total.syncPico += acc.syncPico;
      total.batchPico += acc.batchPico;
      return { model: key, seenAs: [...seenAs].sort(), ...figures(acc) };
    });

  return {
    priceTableVersion: table.version,
    lines: lineNo,
    blankLines: blank,
    byModel,
    total: figures(total),
    unknownModels: [...unknown.entries()].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)).map(([, u]) => u),
    badLines: { count: badCount, samples: badSamples },
  };
}
