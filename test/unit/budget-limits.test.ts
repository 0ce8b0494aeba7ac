import { describe, expect, it } from 'vitest';
import {
  BudgetError,
  MODEL_QUEUE_LIMITS,
  TIER_LIMITS_SOURCE,
  defaultLimitFor,
  effectiveLimit,
  fitsWithinLimit,
  parseEnqueuedTokenLimit,
  parseTier,
  parseTokenLimitMessage,
  resolveModelLimits,
} from '../../src/budget/index.ts';

// Verbatim from openai/openai-python#2084 (BatchError.message of a failed batch).
const REAL_MESSAGE =
  'Enqueued token limit reached for gpt-4o-mini in organization org-snq6hvcTYRCMyB87hjZjkoFr. Limit: 2,000,000 enqueued tokens. Please try again once some in_progress batches have been completed.';

describe('parseEnqueuedTokenLimit', () => {
  it('reads the limit from the real message', () => {
    expect(parseEnqueuedTokenLimit(REAL_MESSAGE)).toBe(2_000_000);
    expect(parseTokenLimitMessage(REAL_MESSAGE)).toEqual({
      limit: 2_000_000,
      model: 'gpt-4o-mini',
      organization: 'org-snq6hvcTYRCMyB87hjZjkoFr',
    });
  });

  it('reads it from a stringified BatchError too', () => {
    const wrapped = `BatchError(code='token_limit_exceeded', line=None, message='${REAL_MESSAGE}', param=None)`;
    expect(parseEnqueuedTokenLimit(wrapped)).toBe(2_000_000);
  });

  it('accepts limits without commas', () => {
    expect(parseEnqueuedTokenLimit(REAL_MESSAGE.replace('2,000,000', '2000000'))).toBe(2_000_000);
    expect(parseEnqueuedTokenLimit('Limit: 90000 enqueued tokens.')).toBe(90_000);
  });

  it('handles other models, organisations and sizes', () => {
    const msg =
      'Enqueued token limit reached for gpt-4.1-mini-2025-04-14 in organization org-XXXXXX. Limit: 15,000,000,000 enqueued tokens. Please try again once some in_progress batches have been completed.';
    expect(parseTokenLimitMessage(msg)).toEqual({ limit: 15_000_000_000, model: 'gpt-4.1-mini-2025-04-14', organization: 'org-XXXXXX' });
    expect(parseEnqueuedTokenLimit(REAL_MESSAGE.replace('gpt-4o-mini', 'gpt-4o').replace('2,000,000', '90,000'))).toBe(90_000);
  });

  it('returns the limit but no names when the sentence around it differs', () => {
    expect(parseTokenLimitMessage('Limit: 1,350,000 enqueued tokens')).toEqual({ limit: 1_350_000, model: null, organization: null });
  });

  it('returns null for garbage and for other limits', () => {
    for (const text of [
      '',
      'garbage',
      'Limit: enqueued tokens',
      'Limit: 2,00,000 enqueued tokens', // misplaced separators
      'Limit: 0 enqueued tokens',
      'Limit: -5 enqueued tokens',
      'Limit: 2,000,000 tokens per minute',
      // The separate enqueued-request cap is not a token limit.
      'Enqueued request limit reached for text-embedding-3-small in organization org-XXXXXX. Limit: 1,000,000 enqueued requests. Please try again once some in_progress batches have been completed.',
      'Limit: 99999999999999999999 enqueued tokens', // not a safe integer
    ]) {
      expect(parseEnqueuedTokenLimit(text), text).toBeNull();
    }
    expect(parseEnqueuedTokenLimit(undefined as unknown as string)).toBeNull();
  });
});

describe('effectiveLimit', () => {
  it('applies the margin to the configured limit', () => {
    expect(effectiveLimit({ configured: 2_000_000, safetyMargin: 0.1 })).toBe(1_800_000);
    expect(effectiveLimit({ configured: 90_000, safetyMargin: 0.1 })).toBe(81_000); // 81000.00000000001 in floats
    expect(effectiveLimit({ configured: 1_000, safetyMargin: 0.7 })).toBe(300); // 1 - 0.7 = 0.30000000000000004
    expect(effectiveLimit({ configured: 1_000, safetyMargin: 0 })).toBe(1_000);
  });

  it('defaults the margin to 10%', () => {
    expect(effectiveLimit({ configured: 1_000 })).toBe(900);
  });

  it('floors fractional results', () => {
    expect(effectiveLimit({ configured: 999, safetyMargin: 0.1 })).toBe(899); // 899.1
    expect(effectiveLimit({ configured: 7, safetyMargin: 0.5 })).toBe(3); // 3.5
  });

  it('uses a lower learned limit', () => {
    expect(effectiveLimit({ configured: 20_000_000, learned: 2_000_000, safetyMargin: 0.1 })).toBe(1_800_000);
  });

  it('never lets a learned limit raise the configured one', () => {
    expect(effectiveLimit({ configured: 2_000_000, learned: 40_000_000, safetyMargin: 0.1 })).toBe(1_800_000);
    expect(effectiveLimit({ configured: 2_000_000, learned: null, safetyMargin: 0.1 })).toBe(1_800_000);
  });

  it('rejects nonsense with BudgetError', () => {
    const bad = [
      { configured: 0 },
      { configured: -1 },
      { configured: NaN },
      { configured: Infinity },
      { configured: 100, learned: 0 },
      { configured: 100, learned: NaN },
      { configured: 100, safetyMargin: 1 },
      { configured: 100, safetyMargin: -0.1 },
      { configured: 100, safetyMargin: NaN },
    ];
    for (const input of bad) expect(() => effectiveLimit(input), JSON.stringify(input)).toThrow(BudgetError);
  });
});

describe('fitsWithinLimit', () => {
  it('says whether a batch could ever be reserved', () => {
    expect(fitsWithinLimit(1_000, 1_000)).toBe(true);
    expect(fitsWithinLimit(1_001, 1_000)).toBe(false);
  });
});

describe('tier limits', () => {
  it('looks up families by tier', () => {
    expect(defaultLimitFor('gpt-4o-mini', 1)).toBe(2_000_000);
    expect(defaultLimitFor('gpt-4o-mini', 'T5')).toBe(15_000_000_000);
    expect(defaultLimitFor('gpt-4o', 1)).toBe(90_000);
    expect(defaultLimitFor('gpt-4o', 2)).toBe(1_350_000);
    expect(defaultLimitFor('gpt-4.1', 3)).toBe(50_000_000);
    expect(defaultLimitFor('gpt-4.1', 3, { longContext: true })).toBe(40_000_000);
    expect(defaultLimitFor('gpt-4.1-mini', 4)).toBe(1_000_000_000);
    expect(defaultLimitFor('gpt-5-mini', 1)).toBe(5_000_000);
    expect(defaultLimitFor('gpt-5-nano', 2)).toBe(20_000_000);
    expect(defaultLimitFor('text-embedding-3-large', 3)).toBe(100_000_000);
  });

  it('resolves snapshot names to their family, never to a shorter family', () => {
    expect(defaultLimitFor('gpt-4o-mini-2024-07-18', 1)).toBe(2_000_000);
    expect(defaultLimitFor('gpt-4o-2024-08-06', 1)).toBe(90_000);
    expect(defaultLimitFor('GPT-4.1-MINI-2025-04-14', 1)).toBe(2_000_000);
    expect(resolveModelLimits('gpt-4o-mini-2024-07-18')?.family).toBe('gpt-4o-mini');
    expect(resolveModelLimits('gpt-5-mini-2025-08-07')?.family).toBe('gpt-5-mini');
  });

  it('marks gpt-4.1-nano as assumed equal to gpt-4.1-mini', () => {
    const nano = resolveModelLimits('gpt-4.1-nano');
    expect(nano?.confidence).toBe('assumed');
    expect(nano?.note).toMatch(/gpt-4\.1-mini/);
    expect(nano?.limits).toEqual(resolveModelLimits('gpt-4.1-mini')?.limits);
  });

  it('returns null for unknown models and unknown tiers', () => {
    expect(defaultLimitFor('gpt-3.5-turbo', 1)).toBeNull();
    expect(defaultLimitFor('ft:gpt-4o-mini-2024-07-18:acme::abc123', 1)).toBeNull();
    expect(defaultLimitFor('gpt-4o-audio-preview', 1)).toBeNull();
    expect(defaultLimitFor('gpt-5', 1)).toBe(1_500_000);
    expect(defaultLimitFor('gpt-5', 3)).toBeNull(); // unverified
    expect(defaultLimitFor('gpt-4o', 6)).toBeNull();
    expect(defaultLimitFor('gpt-4o', 'T9')).toBeNull();
  });

  it('parses tiers', () => {
    expect([3, '3', 'T3', 't3', 'tier3', 'Tier-3', 'tier 3'].map(parseTier)).toEqual([3, 3, 3, 3, 3, 3, 3]);
    expect([0, 6, 'T0', 'x', ''].map(parseTier)).toEqual([null, null, null, null, null]);
  });

  it('records where every row comes from', () => {
    expect(TIER_LIMITS_SOURCE.asOf).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    for (const entry of MODEL_QUEUE_LIMITS) {
      expect(entry.source.length, entry.family).toBeGreaterThan(0);
      expect(entry.sourceDate, entry.family).toMatch(/^\d{4}/);
      for (const value of Object.values(entry.limits)) {
        if (value !== null) expect(Number.isSafeInteger(value) && value > 0, entry.family).toBe(true);
      }
    }
  });
});
