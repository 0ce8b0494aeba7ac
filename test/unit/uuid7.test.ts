import { describe, expect, it } from 'vitest';
import { uuidv7 } from '../../src/store/uuid7.ts';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const millisOf = (id: string) => parseInt(id.replace(/-/g, '').slice(0, 12), 16);

describe('uuidv7', () => {
  it('is a version 7, variant 1 UUID carrying its milliseconds in the first 48 bits', () => {
    for (const ms of [0, 1, 2 ** 32 - 1, 2 ** 32, Date.UTC(2026, 11, 5, 23, 59, 59, 999), 2 ** 48 - 1]) {
      const id = uuidv7(ms);
      expect(id).toMatch(V7);
      expect(millisOf(id)).toBe(ms);
    }
  });

  it('sorts by time across milliseconds and does not repeat within one', () => {
    const ids = Array.from({ length: 2_000 }, (_, i) => uuidv7(1_700_000_000_000 + Math.floor(i / 100)));
    expect(new Set(ids).size).toBe(ids.length);
    for (let i = 100; i < ids.length; i += 100) expect(ids[i - 1]! < ids[i]!).toBe(true);
  });
});
