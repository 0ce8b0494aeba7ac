import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { renderSavings } from '../../src/cli/commands/savings-estimate.ts';
import { estimateSavings, loadPriceTable } from '../../src/pricing/index.ts';

const FIXTURE = fileURLToPath(new URL('../fixtures/pricing/sync-usage.jsonl', import.meta.url));

/*
 * Expected figures, worked by hand from the §6 table (USD per 1M tokens):
 * gpt-4o-mini   line 1: 1M in × 0.15 + 500k out × 0.60 = 0.45        | batch 0.075 + 0.15 = 0.225
 *               line 2: 1k in × 0.15 + 1k cached × 0.075 + 1k × 0.60 | batch: cached at the batch INPUT rate
 *                       = 0.000825                                    |   1k × 0.075 + 1k × 0.075 + 1k × 0.30 = 0.00045
 *               → sync 0.450825, batch 0.22545, savings 0.225375, 49.99 %
 * gpt-5         line 5: 6k × 1.25 + 4k × 0.125 + 2k × 10 = 0.028       | batch 0.014
 *               line 6: 1k × 1.25 + 3k × 10 (reasoning inside) = 0.03125 | batch 0.015625
 *               → sync 0.05925, batch 0.029625, 50 %
 * text-embedding-3-small line 11: 50k × 0.02 = 0.001 | batch 0.0005
 * gpt-4o        line 15: 500 × 2.5 + 500 × 1.25 + 100 × 10 = 0.002875 | batch 1000 × 1.25 + 100 × 5 = 0.00175 → 39.13 %
 * gpt-4o-2024-05-13 line 16: 1k × 5 + 1k × 15 = 0.02 | batch 0.01
 * total sync 0.53395, batch 0.267325, savings 0.266625, 49.93 %
 */
describe('estimateSavings on the fixture file', () => {
  it('reports per model and in total, with bad and unknown-model lines apart', async () => {
    const report = await estimateSavings(FIXTURE);

    expect(report.priceTableVersion).toBe('openai-2026-07-30');
    expect(report.lines).toBe(16);
    expect(report.blankLines).toBe(1);

    expect(report.byModel).toEqual([
      {
        model: 'gpt-4o',
        seenAs: ['gpt-4o'],
        requests: 1,
        inputTokens: 1000,
        cachedTokens: 500,
        outputTokens: 100,
        totalTokens: 1100,
        syncCostUsd: 0.002875,
        batchCostUsd: 0.00175,
        savingsUsd: 0.001125,
        savingsPct: 39.13,
      },
      {
        model: 'gpt-4o-2024-05-13',
        seenAs: ['gpt-4o-2024-05-13'],
        requests: 1,
        inputTokens: 1000,
        cachedTokens: 0,
        outputTokens: 1000,
        totalTokens: 2000,
        syncCostUsd: 0.02,
        batchCostUsd: 0.01,
        savingsUsd: 0.01,
        savingsPct: 50,
      },
      {
        model: 'gpt-4o-mini',
        seenAs: ['gpt-4o-mini', 'gpt-4o-mini-2024-07-18'],
        requests: 2,
        inputTokens: 1_002_000,
        cachedTokens: 1000,
        outputTokens: 501_000,
        totalTokens: 1_503_000,
        syncCostUsd: 0.450825,
        batchCostUsd: 0.22545,
        savingsUsd: 0.225375,
        savingsPct: 49.99,
      },
      {
        model: 'gpt-5',
        seenAs: ['gpt-5', 'gpt-5-2025-08-07'],
        requests: 2,
        inputTokens: 11_000,
        cachedTokens: 4000,
        outputTokens: 5000,
        totalTokens: 16_000,
        syncCostUsd: 0.05925,
        batchCostUsd: 0.029625,
        savingsUsd: 0.029625,
        savingsPct: 50,
      },
      {
        model: 'text-embedding-3-small',
        seenAs: ['text-embedding-3-small'],
        requests: 1,
        inputTokens: 50_000,
        cachedTokens: 0,
        outputTokens: 0,
        totalTokens: 50_000,
        syncCostUsd: 0.001,
        batchCostUsd: 0.0005,
        savingsUsd: 0.0005,
        savingsPct: 50,
      },
    ]);

    expect(report.total).toEqual({
      requests: 7,
      inputTokens: 1_065_000,
      cachedTokens: 5500,
      outputTokens: 507_100,
      totalTokens: 1_572_100,
      syncCostUsd: 0.53395,
      batchCostUsd: 0.267325,
      savingsUsd: 0.266625,
      savingsPct: 49.93,
    });

    expect(report.unknownModels).toEqual([
      { model: 'gpt-9-ultra', requests: 2, inputTokens: 107, cachedTokens: 0, outputTokens: 13, lines: [7, 14] },
    ]);

    expect(report.badLines.count).toBe(6);
    expect(report.badLines.samples.map((b) => b.line)).toEqual([4, 8, 9, 10, 12, 13]);
    const reasons = Object.fromEntries(report.badLines.samples.map((b) => [b.line, b.reason]));
    expect(reasons[4]).toBe('invalid JSON');
    expect(reasons[8]).toBe('model is missing');
    expect(reasons[9]).toMatch(/^input_tokens must be a non-negative integer, got -5$/);
    expect(reasons[10]).toMatch(/cached tokens \(20\) exceed input tokens \(10\)/);
    expect(reasons[12]).toMatch(/output tokens have no price for model "text-embedding-3-small"/);
    expect(reasons[13]).toBe('not a JSON object');
  });

  it('keeps only the first maxSamples line numbers but counts everything', async () => {
    const report = await estimateSavings(FIXTURE, { maxSamples: 2 });
    expect(report.badLines.count).toBe(6);
    expect(report.badLines.samples.map((b) => b.line)).toEqual([4, 8]);
    expect(report.unknownModels[0]!.requests).toBe(2);
    expect(report.unknownModels[0]!.lines).toEqual([7, 14]);
    const one = await estimateSavings(FIXTURE, { maxSamples: 1 });
    expect(one.unknownModels[0]!.lines).toEqual([7]);
  });

  it('costs unknown models once an override prices them', async () => {
    const table = loadPriceTable({
      version: 'with-gpt-9',
      models: { 'gpt-9-ultra': { standard: { input: 10, output: 100 }, batch: { input: 5, output: 50 } } },
    });
    const report = await estimateSavings(FIXTURE, { table });
    expect(report.priceTableVersion).toBe('with-gpt-9');
    expect(report.unknownModels).toEqual([]);
    // 107 × 10 + 13 × 100 = 2370 µUSD
    expect(report.byModel.find((m) => m.model === 'gpt-9-ultra')).toMatchObject({ requests: 2, syncCostUsd: 0.00237, batchCostUsd: 0.001185 });
    expect(report.total.requests).toBe(9);
  });

  it('renders a text table with the CLI table formatter (numbers right-aligned)', async () => {
    const text = renderSavings(await estimateSavings(FIXTURE));
    expect(text).toMatch(/^MODEL\s+REQUESTS\s+INPUT\s+CACHED\s+OUTPUT\s+SYNC COST\s+BATCH COST\s+SAVINGS\s+SAVINGS %$/m);
    expect(text).toMatch(/^TOTAL {2,}7 {2}1,065,000 {3}5,500 {2}507,100 {2}\$0\.533950 {3}\$0\.267325 {2}\$0\.266625 {5}49\.93%$/m);
    expect(text).toContain('gpt-9-ultra: 2 request(s), 120 tokens, lines 7, 14');
    expect(text).toContain('line 4: invalid JSON');
  });
});

describe('estimateSavings on iterables', () => {
  it('accepts an async iterable of lines, CRLF and a BOM', async () => {
    async function* lines(): AsyncGenerator<string> {
      yield '\uFEFF{"model":"gpt-5-nano","input_tokens":1000000,"cached_tokens":1000000,"output_tokens":0}\r';
      yield '   ';
      yield '{"model":"gpt-5-nano","usage":{"input_tokens":0,"output_tokens":1000000}}';
    }
    const report = await estimateSavings(lines());
    expect(report.badLines.count).toBe(0);
    expect(report.blankLines).toBe(1);
    // 1M cached × 0.005 + 1M out × 0.40 = 0.405; batch 0.0025 + 0.20 = 0.2025
    expect(report.total).toMatchObject({ requests: 2, syncCostUsd: 0.405, batchCostUsd: 0.2025, savingsPct: 50 });
  });

  it('accepts a plain array and reports an empty input as zeros', async () => {
    const report = await estimateSavings([]);
    expect(report.total).toEqual({
      requests: 0,
      inputTokens: 0,
      cachedTokens: 0,
      outputTokens: 0,
      totalTokens: 0,
      syncCostUsd: 0,
      batchCostUsd: 0,
      savingsUsd: 0,
      savingsPct: 0,
    });
    expect(report.byModel).toEqual([]);
  });

  it('never stops on bad lines', async () => {
    const lines = Array.from({ length: 100 }, (_, i) => (i % 2 ? '{' : '{"model":"gpt-4.1","input_tokens":1,"output_tokens":1}'));
    const report = await estimateSavings(lines);
    expect(report.total.requests).toBe(50);
    expect(report.badLines.count).toBe(50);
    expect(report.badLines.samples).toHaveLength(20);
    expect(report.badLines.samples[0]).toEqual({ line: 2, reason: 'invalid JSON' });
  });
});
