import { describe, expect, it } from 'vitest';
import {
  InvalidPriceTableError,
  InvalidUsageError,
  SEED_PRICE_TABLE,
  SEED_PRICE_TABLE_VERSION,
  UNKNOWN_MODEL_ERROR,
  UnknownModelError,
  UnpricedTokensError,
  costOf,
  costPair,
  costPairPico,
  effectiveRates,
  findModelPrice,
  loadPriceTable,
  picoUsdToDecimalString,
  picoUsdToNumber,
  resolveModel,
  usageFromOpenAI,
  type TokenUsage,
} from '../../src/pricing/index.ts';

/** docs reference openai-batch-api.md §6, copied by hand (USD per 1M tokens; null = "–"). */
const REFERENCE: Record<string, [number, number | null, number | null, number, number | null, number | null]> = {
  //                         std in, std cached, std out, batch in, batch cached, batch out
  'gpt-4o': [2.5, 1.25, 10, 1.25, null, 5],
  'gpt-4o-mini': [0.15, 0.075, 0.6, 0.075, null, 0.3],
  'gpt-4.1': [2, 0.5, 8, 1, null, 4],
  'gpt-4.1-mini': [0.4, 0.1, 1.6, 0.2, null, 0.8],
  'gpt-4.1-nano': [0.1, 0.025, 0.4, 0.05, null, 0.2],
  'gpt-5': [1.25, 0.125, 10, 0.625, 0.0625, 5],
  'gpt-5-mini': [0.25, 0.025, 2, 0.125, 0.0125, 1],
  'gpt-5-nano': [0.05, 0.005, 0.4, 0.025, 0.0025, 0.2],
  'text-embedding-3-small': [0.02, null, null, 0.01, null, null],
  'text-embedding-3-large': [0.13, null, null, 0.065, null, null],
  'gpt-4o-2024-05-13': [5, null, 15, 2.5, null, 7.5],
};

const M = 1_000_000;
const usage = (inputTokens: number, cachedTokens: number, outputTokens: number): TokenUsage => ({ inputTokens, cachedTokens, outputTokens });

describe('seeded price table', () => {
  it('has a version, a source and exactly the reference models', () => {
    expect(SEED_PRICE_TABLE.version).toBe(SEED_PRICE_TABLE_VERSION);
    expect(SEED_PRICE_TABLE.version).toMatch(/2026-07-30/);
    expect(SEED_PRICE_TABLE.source).toMatch(/pricing/);
    expect(SEED_PRICE_TABLE.unit).toBe('usd_per_1m_tokens');
    expect(Object.keys(SEED_PRICE_TABLE.models).sort()).toEqual(Object.keys(REFERENCE).sort());
    expect(Object.isFrozen(SEED_PRICE_TABLE.models)).toBe(true);
  });

  describe.each(Object.entries(REFERENCE))('%s', (model, [si, sc, so, bi, bc, bo]) => {
    const { price } = resolveModel(model);

    it('matches the reference rates', () => {
      expect(price.standard.input).toBe(si);
      expect(price.standard.cachedInput).toBe(sc ?? undefined);
      expect(price.standard.output).toBe(so);
      expect(price.batch.input).toBe(bi);
      expect(price.batch.cachedInput).toBe(bc ?? undefined);
      expect(price.batch.output).toBe(bo);
    });

    it('costs 1M tokens of each kind at the listed rate (unlisted cached rate → input rate)', () => {
      expect(costOf(usage(M, 0, 0), price, 'sync')).toBe(si);
      expect(costOf(usage(M, 0, 0), price, 'batch')).toBe(bi);
      expect(costOf(usage(M, M, 0), price, 'sync')).toBe(sc ?? si);
      expect(costOf(usage(M, M, 0), price, 'batch')).toBe(bc ?? bi);
      if (so !== null && bo !== null) {
        expect(costOf(usage(0, 0, M), price, 'sync')).toBe(so);
        expect(costOf(usage(0, 0, M), price, 'batch')).toBe(bo);
      } else {
        expect(() => costOf(usage(0, 0, 1), price, 'sync')).toThrow(UnpricedTokensError);
      }
    });

    it('batch cost is exactly half of sync cost without cached tokens', () => {
      const u = so === null ? usage(123_457, 0, 0) : usage(123_457, 0, 98_761);
      const { costUsd, syncCostUsd } = costPair(u, model);
      expect(costUsd * 2).toBe(syncCostUsd);
      const pico = costPairPico(u, model);
      expect(pico.costPicoUsd * 2n).toBe(pico.syncCostPicoUsd);
    });
  });
});

describe('model resolution', () => {
  it.each([
    ['gpt-4o-mini-2024-07-18', 'gpt-4o-mini'],
    ['gpt-5-2025-08-07', 'gpt-5'],
    ['gpt-5-mini-2025-08-07', 'gpt-5-mini'],
    ['gpt-4.1-2025-04-14', 'gpt-4.1'],
    ['gpt-4.1-nano-2025-04-14', 'gpt-4.1-nano'],
    ['gpt-4o-2024-08-06', 'gpt-4o'],
    ['gpt-4o-2024-11-20', 'gpt-4o'],
    ['GPT-4o-Mini', 'gpt-4o-mini'],
    [' gpt-5 ', 'gpt-5'],
  ])('%s → %s (longest prefix + snapshot date)', (model, key) => {
    expect(resolveModel(model).key).toBe(key);
  });

  it('gpt-4o-2024-05-13 has its own prices', () => {
    const r = resolveModel('gpt-4o-2024-05-13');
    expect(r.key).toBe('gpt-4o-2024-05-13');
    expect(costPair(usage(M, 0, M), 'gpt-4o-2024-05-13')).toEqual({ costUsd: 10, syncCostUsd: 20 });
    expect(costPair(usage(M, 0, M), 'gpt-4o-2024-08-06')).toEqual({ costUsd: 6.25, syncCostUsd: 12.5 });
  });

  it.each(['gpt-9', 'gpt-5-pro', 'gpt-4o-audio-preview', 'ft:gpt-4o-mini-2024-07-18:acme::abc123', 'constructor', '__proto__', 'gpt-4o-mini-latest', ''])(
    'unknown model %j throws UnknownModelError naming it',
    (model) => {
      expect(findModelPrice(model)).toBeNull();
      let caught: unknown;
      try {
        costPair(usage(10, 0, 10), model);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(UnknownModelError);
      const err = caught as UnknownModelError;
      expect(err.name).toBe('UnknownModelError');
      expect(err.model).toBe(model);
      expect(err.message).toContain(UNKNOWN_MODEL_ERROR);
      expect(err.message).toContain(`"${model}"`);
    },
  );
});

describe('cost', () => {
  it('charges uncached input, cached input and output separately (gpt-5 has a batch cached rate)', () => {
    // 600k uncached × 1.25 + 400k cached × 0.125 + 200k out × 10 = 0.75 + 0.05 + 2
    expect(costPair(usage(M, 400_000, 200_000), 'gpt-5')).toEqual({ costUsd: 1.4, syncCostUsd: 2.8 });
  });

  it('charges batch cached input at the batch input rate where the table lists none (gpt-4o)', () => {
    expect(effectiveRates(resolveModel('gpt-4o').price, 'batch')).toEqual({ input: 1.25, cachedInput: 1.25, output: 5 });
    // sync: 600k × 2.5 + 400k × 1.25 = 2.0; batch: 1M × 1.25 = 1.25 (not half: no published batch cache discount)
    expect(costPair(usage(M, 400_000, 0), 'gpt-4o')).toEqual({ costUsd: 1.25, syncCostUsd: 2 });
  });

  it('batch = half of sync for the same usage, also with cached tokens where the table lists a batch cached rate', () => {
    for (const model of ['gpt-5', 'gpt-5-mini', 'gpt-5-nano']) {
      for (const u of [usage(1, 1, 1), usage(987_654_321, 123_456_789, 55_555), usage(3, 2, 7)]) {
        const { costUsd, syncCostUsd } = costPair(u, model);
        expect(costUsd * 2).toBe(syncCostUsd);
      }
    }
  });

  it('has no float drift', () => {
    // 4 × 0.15 + 3 × 0.075 + 11 × 0.6 = 7.425 micro-USD
    expect(costPair(usage(7, 3, 11), 'gpt-4o-mini').syncCostUsd).toBe(7.425e-6);
    // summing in pico-USD is exact: 10 × 0.15 µUSD = 1.5 µUSD
    let exact = 0n;
    for (let i = 0; i < 10; i++) exact += costPairPico(usage(1, 0, 0), 'gpt-4o-mini').syncCostPicoUsd;
    expect(exact).toBe(1_500_000n);
    expect(picoUsdToNumber(exact)).toBe(1.5e-6);
  });

  it('costs zero usage at zero', () => {
    expect(costPair(usage(0, 0, 0), 'gpt-4o')).toEqual({ costUsd: 0, syncCostUsd: 0 });
  });

  it.each([
    [usage(-1, 0, 0), 'inputTokens'],
    [usage(1.5, 0, 0), 'inputTokens'],
    [usage(10, 0, Number.NaN), 'outputTokens'],
    [usage(10, 11, 0), 'cachedTokens'],
    [{ inputTokens: 10, cachedTokens: undefined, outputTokens: 0 } as unknown as TokenUsage, 'cachedTokens'],
  ])('rejects bad usage %j', (u, field) => {
    expect(() => costPair(u, 'gpt-4o')).toThrow(InvalidUsageError);
    expect(() => costPair(u, 'gpt-4o')).toThrow(field);
  });

  it('refuses to cost output tokens on an embedding model at zero', () => {
    expect(() => costPair(usage(10, 0, 5), 'text-embedding-3-small')).toThrow(/output tokens have no price for model "text-embedding-3-small"/);
  });

  it('formats pico-USD as an exact decimal string', () => {
    expect(picoUsdToDecimalString(1_250_000n)).toBe('0.0000012500');
    expect(picoUsdToDecimalString(2_800_000_000_000n)).toBe('2.8000000000');
    expect(picoUsdToDecimalString(2_500n)).toBe('0.0000000025'); // 0.0025 µUSD: one gpt-5-nano batch cached token
    expect(picoUsdToDecimalString(49n)).toBe('0.0000000000');
    expect(picoUsdToDecimalString(50n)).toBe('0.0000000001');
    expect(picoUsdToDecimalString(1n, 12)).toBe('0.000000000001');
    expect(picoUsdToDecimalString(123_456_789_012_345n, 8)).toBe('123.45678901');
  });
});

describe('usageFromOpenAI', () => {
  it('reads chat completions usage without adding reasoning tokens again', () => {
    expect(
      usageFromOpenAI({
        prompt_tokens: 100,
        completion_tokens: 50,
        total_tokens: 150,
        prompt_tokens_details: { cached_tokens: 64 },
        completion_tokens_details: { reasoning_tokens: 40 },
      }),
    ).toEqual(usage(100, 64, 50));
  });

  it('reads responses and embeddings usage', () => {
    expect(usageFromOpenAI({ input_tokens: 9, output_tokens: 4, input_tokens_details: { cached_tokens: 0 }, output_tokens_details: { reasoning_tokens: 2 } })).toEqual(usage(9, 0, 4));
    expect(usageFromOpenAI({ prompt_tokens: 8, total_tokens: 8 })).toEqual(usage(8, 0, 0));
  });

  it('names the bad field', () => {
    expect(() => usageFromOpenAI({ prompt_tokens: '8' })).toThrow('usage.prompt_tokens must be a non-negative integer');
    expect(() => usageFromOpenAI({})).toThrow('usage.prompt_tokens (or input_tokens) is missing');
    expect(() => usageFromOpenAI({ prompt_tokens: 1, prompt_tokens_details: { cached_tokens: 2 } })).toThrow('exceed input tokens');
  });
});

describe('loadPriceTable overrides', () => {
  const entry = { standard: { input: 3, cachedInput: 0.3, output: 12 }, batch: { input: 1.5, output: 6 } };

  it('returns the seed table without overrides', () => {
    expect(loadPriceTable()).toBe(SEED_PRICE_TABLE);
    expect(loadPriceTable(undefined)).toBe(SEED_PRICE_TABLE);
  });

  it('adds a model and replaces a seeded one, keeping the rest', () => {
    const table = loadPriceTable({
      version: 'acme-2026-09',
      models: { 'gpt-5-pro': entry, 'GPT-4o': { standard: { input: 2, output: 8 }, batch: { input: 1, output: 4 } } },
    });
    expect(table.version).toBe('acme-2026-09');
    expect(table.source).toMatch(/overrides for: gpt-4o, gpt-5-pro/);
    expect(resolveModel('gpt-5-pro', table).price).toEqual(entry);
    expect(costPair(usage(M, 0, M), 'gpt-4o-2024-08-06', table)).toEqual({ costUsd: 5, syncCostUsd: 10 });
    expect(costPair(usage(M, 0, M), 'gpt-4o-2024-05-13', table)).toEqual({ costUsd: 10, syncCostUsd: 20 });
    expect(costPair(usage(M, 0, M), 'gpt-5-mini', table)).toEqual({ costUsd: 1.125, syncCostUsd: 2.25 });
    expect(() => resolveModel('gpt-5-pro')).toThrow(UnknownModelError); // the seed is untouched
  });

  it('marks the version when overrides change prices without naming one', () => {
    expect(loadPriceTable({ models: { x1: entry } }).version).toBe(`${SEED_PRICE_TABLE_VERSION}+overrides`);
  });

  it.each([
    [{ models: { 'gpt-4.1': { standard: { input: 1, output: 2 }, batch: { input: 0.5, output: '1' } } } }, 'models["gpt-4.1"].batch.output: expected a number'],
    [{ models: { x: { standard: { input: 1, output: 2 } } } }, 'models.x.batch: '],
    [{ models: { x: { standard: { input: -1, output: 2 }, batch: { input: 0.5, output: 1 } } } }, 'models.x.standard.input: '],
    [{ models: { x: { standard: { input: 1, output: 2 }, batch: { input: 0.0000001, output: 1 } } } }, 'models.x.batch.input: must have at most 6 decimal places'],
    [{ models: { x: { standard: { input: 1, output: 2, cached: 1 }, batch: { input: 0.5, output: 1 } } } }, 'models.x.standard: unknown field(s) "cached"'],
    [{ models: { x: { standard: { input: 1 }, batch: { input: 0.5, output: 1 } } } }, 'models.x.standard.output: required'],
    [{ models: { 'bad name!': entry } }, 'models["bad name!"]: bad model name'],
    [{ models: { '__proto__x': entry } }, 'bad model name'],
    [{ version: 3, models: {} }, 'version: '],
    [{ model: {} }, 'models: '],
    ['{"models":{}}', '(root): '],
    [[], '(root): '],
  ])('rejects %j naming the field', (overrides, message) => {
    let caught: unknown;
    try {
      loadPriceTable(overrides);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(InvalidPriceTableError);
    expect((caught as Error).name).toBe('InvalidPriceTableError');
    expect((caught as Error).message).toContain(message);
    expect((caught as InvalidPriceTableError).issues.length).toBeGreaterThan(0);
  });
});
