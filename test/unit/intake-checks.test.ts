import { describe, expect, it } from 'vitest';
import { checkIntakePayload, describeValue } from '../../src/intake/payload-check.ts';
import { findUnstorableText, safeText, textProblem, truncate } from '../../src/intake/sanitize.ts';

const LONE_HIGH = '\uD800';
const LONE_LOW = '\uDC00';

describe('unstorable text', () => {
  it('finds NUL characters and lone surrogates, but not surrogate pairs', () => {
    expect(textProblem('plain')).toBeNull();
    expect(textProblem('emoji 😀 ok')).toBeNull();
    expect(textProblem('a\u0000b')).toBe('a NUL character');
    expect(textProblem(`x${LONE_HIGH}`)).toBe('a lone surrogate');
    expect(textProblem(`${LONE_LOW}x`)).toBe('a lone surrogate');
    expect(textProblem(`${LONE_HIGH}${LONE_HIGH}${LONE_LOW}`)).toBe('a lone surrogate');
  });

  it('names the JSON path of the first bad string, keys included', () => {
    expect(findUnstorableText({ text: 'a\u0000' }, 'input')?.message).toBe('input.text contains a NUL character');
    expect(findUnstorableText({ a: [{ b: ['ok', `x${LONE_LOW}`] }] }, 'input')?.message).toBe('input.a[0].b[1] contains a lone surrogate');
    expect(findUnstorableText({ 'odd key': { 'k\u0000': 1 } }, 'input')?.message).toBe('input["odd key"] has a key that contains a NUL character');
    expect(findUnstorableText({ ok: [1, true, null, 'fine'] }, 'input')).toBeNull();
    let deep: unknown = 'x';
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(findUnstorableText(deep, 'input')?.message).toMatch(/is nested deeper than 64 levels$/);
  });

  it('truncates for logs and labels without splitting a surrogate pair, and makes text storable', () => {
    expect(truncate('short', 10)).toBe('short');
    expect(truncate('x'.repeat(1_048_576), 5)).toBe('xxxxx… (1048576 chars)');
    expect(truncate('ab😀', 3)).toBe('ab… (4 chars)');
    expect(safeText(`a\u0000b${LONE_HIGH}`)).toBe('a\uFFFDb\uFFFD');
    expect(safeText('y'.repeat(500), 10)).toBe('yyyyyyyyyy… (500 chars)');
  });
});

describe('intake payload checks name the field and the rule', () => {
  const reject = (payload: unknown) => {
    const r = checkIntakePayload(payload);
    expect(r.ok).toBe(false);
    return r.ok ? '' : r.reason;
  };

  it.each([
    [null, 'payload must be a JSON object with "task" and "items" (or "externalId" and "input"), got null'],
    ['text', 'payload must be a JSON object with "task" and "items" (or "externalId" and "input"), got a string'],
    [[1], 'payload must be a JSON object with "task" and "items" (or "externalId" and "input"), got an array'],
    [{ items: [] }, 'task is missing'],
    [{ task: 42, items: [] }, 'task must be a string, got a number'],
    [{ task: '', items: [] }, 'task must not be empty'],
    [{ task: 't'.repeat(1_000_000), items: [] }, 'task is longer than 200 characters'],
    [{ task: 'a\u0000', items: [] }, 'task contains a NUL character'],
    [{ task: `a${LONE_HIGH}`, items: [] }, 'task contains a lone surrogate'],
    [{ task: 't', items: null }, 'items must be an array, got null'],
    [{ task: 't', items: {} }, 'items must be an array, got an object'],
    [{ task: 't', items: [] }, 'items is empty'],
    [{ task: 't' }, 'payload needs "items" (an array), or "externalId" and "input"'],
    [{ task: 't', items: [], extra: 1 }, 'unknown field "extra" (allowed: task, items, or task, externalId, input)'],
    [{ task: 't', items: [{}], externalId: 'x' }, 'payload has both "items" and "externalId"/"input": send one form or the other'],
    [{ task: 't', externalId: 5, input: {} }, 'externalId must be a string, got a number'],
    [{ task: 't', externalId: 'e', input: null }, 'input is missing (got null)'],
    [{ task: 't', externalId: 'e', input: { text: 'a\u0000' } }, 'input.text contains a NUL character'],
  ])('%#: %j', (payload, reason) => {
    expect(reject(payload)).toBe(reason);
  });

  it('rejects 10,001 items with the limit in the reason', () => {
    const items = Array.from({ length: 10_001 }, (_, i) => ({ externalId: `e${i}`, input: {} }));
    expect(reject({ task: 't', items })).toBe('items has 10001 entries: more than 10,000 items in one job');
  });

  it('rejects bad entries alone and keeps the rest', () => {
    const r = checkIntakePayload({
      task: 'classify',
      items: [
        { externalId: 'good-1', input: { text: 'fine' } },
        { externalId: 'nul', input: { text: 'a\u0000b' } },
        { externalId: 7, input: {} },
        'not an item',
        { externalId: 'no-input' },
        { externalId: `lone${LONE_LOW}`, input: {} },
        { externalId: 'x'.repeat(257), input: {} },
        { externalId: '', input: {} },
        { externalId: 'good-2', input: { nested: { 'key\u0000': 1 } } },
        { externalId: 'good-3', input: [1, 2, 3] },
      ],
    });
    expect(r).toEqual({
      ok: true,
      task: 'classify',
      items: [
        { externalId: 'good-1', input: { text: 'fine' } },
        { externalId: 'good-3', input: [1, 2, 3] },
      ],
      rejected: [
        { externalId: 'nul', reason: 'input.text contains a NUL character' },
        { externalId: 'items[2]', reason: 'items[2].externalId must be a string, got a number' },
        { externalId: 'items[3]', reason: 'items[3] must be an object with externalId and input, got a string' },
        { externalId: 'no-input', reason: 'input is missing (got nothing)' },
        { externalId: 'items[5]', reason: 'items[5].externalId contains a lone surrogate' },
        { externalId: 'items[6]', reason: 'items[6].externalId is longer than 256 characters' },
        { externalId: 'items[7]', reason: 'items[7].externalId must not be empty' },
        { externalId: 'good-2', reason: 'input.nested has a key that contains a NUL character' },
      ],
    });
  });

  it('accepts the single-item form', () => {
    expect(checkIntakePayload({ task: 't', externalId: 'e', input: { a: 1 } })).toEqual({ ok: true, task: 't', items: [{ externalId: 'e', input: { a: 1 } }], rejected: [] });
  });

  it('describes values by kind, never by content', () => {
    expect([null, undefined, [], {}, 1, 'secret', true].map(describeValue)).toEqual(['null', 'nothing', 'an array', 'an object', 'a number', 'a string', 'a boolean']);
  });
});
