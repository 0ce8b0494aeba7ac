/**
 * TokenBudget against the real Redis at 127.0.0.1:6379. Other suites share that server and run in
 * parallel, so every test works under its own random prefix and deletes its keys afterwards.
 */
import { createHash, randomInt, randomUUID } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BudgetError, TokenBudget, fitsWithinLimit } from '../../src/budget/index.ts';
import { runScript } from '../../src/budget/reservation-scripts.ts';
import { deletePrefix, scanKeys, testPrefix } from '../support/redis.ts';

const REDIS: RedisOptions = { host: '127.0.0.1', port: 6379, maxRetriesPerRequest: 3 };

let prefix: string;
let connections: Redis[] = [];

function connect(options: RedisOptions = {}): Redis {
  const redis = new Redis({ ...REDIS, ...options });
  connections.push(redis);
  return redis;
}

beforeEach(() => {
  prefix = testPrefix('budget');
});

afterEach(async () => {
  await deletePrefix(prefix);
  const open = connections;
  connections = [];
  await Promise.all(open.map((r) => r.quit().catch(() => r.disconnect())));
});

/** Redis Cluster hash tag of a key: the text inside the first `{…}`, or the whole key. */
function hashTag(key: string): string {
  const start = key.indexOf('{');
  if (start === -1) return key;
  const end = key.indexOf('}', start + 1);
  if (end === -1 || end === start + 1) return key;
  return key.slice(start + 1, end);
}

describe.each([2, 3] as const)('TokenBudget (RESP%i)', (protocol) => {
  const model = 'gpt-4o-mini';
  let redis: Redis;
  let budget: TokenBudget;

  beforeEach(() => {
    redis = connect({ protocol });
    budget = new TokenBudget({ redis, prefix });
  });

  it('reserves idempotently per batch id', async () => {
    expect(await budget.reserve(model, 'batch-1', 100, 1_000)).toEqual({ ok: true, alreadyHeld: false, used: 100, limit: 1_000 });
    expect(await budget.reserve(model, 'batch-1', 100, 1_000)).toEqual({ ok: true, alreadyHeld: true, used: 100, limit: 1_000 });
    // A retry with a different estimate or a lower limit keeps the first reservation as it was.
    expect(await budget.reserve(model, 'batch-1', 700, 50)).toEqual({ ok: true, alreadyHeld: true, used: 100, limit: 50 });
    expect(await budget.reservations(model)).toEqual(new Map([['batch-1', 100]]));
    expect(await budget.used(model)).toBe(100);
  });

  it('releases idempotently and leaves no keys behind', async () => {
    await budget.reserve(model, 'batch-1', 100, 1_000);
    await budget.reserve(model, 'batch-2', 250, 1_000);
    expect(await budget.release(model, 'batch-1')).toBe(true);
    expect(await budget.release(model, 'batch-1')).toBe(false);
    expect(await budget.used(model)).toBe(250);
    expect(await budget.release(model, 'batch-2')).toBe(true);
    expect(await budget.release(model, 'never-reserved')).toBe(false);
    expect(await budget.used(model)).toBe(0);
    expect(await budget.reservations(model)).toEqual(new Map());
    const keys = budget.keys(model);
    expect(await redis.exists(keys.reservations, keys.used)).toBe(0);
  });

  it('refuses when full without changing anything, and release frees room', async () => {
    expect((await budget.reserve(model, 'a', 600, 1_000)).ok).toBe(true);
    expect((await budget.reserve(model, 'b', 300, 1_000)).ok).toBe(true);
    expect(await budget.reserve(model, 'c', 200, 1_000)).toEqual({ ok: false, alreadyHeld: false, used: 900, limit: 1_000 });
    expect(await budget.reservations(model)).toEqual(new Map([['a', 600], ['b', 300]]));
    // Exactly filling the limit is allowed.
    expect(await budget.reserve(model, 'd', 100, 1_000)).toEqual({ ok: true, alreadyHeld: false, used: 1_000, limit: 1_000 });
    expect((await budget.reserve(model, 'e', 1, 1_000)).ok).toBe(false);

    expect(await budget.release(model, 'a')).toBe(true);
    expect(await budget.reserve(model, 'c', 200, 1_000)).toEqual({ ok: true, alreadyHeld: false, used: 600, limit: 1_000 });
  });

  it('never grants a single reservation larger than the limit', async () => {
    expect(fitsWithinLimit(1_001, 1_000)).toBe(false);
    expect(await budget.reserve(model, 'huge', 1_001, 1_000)).toEqual({ ok: false, alreadyHeld: false, used: 0, limit: 1_000 });
    expect(await budget.used(model)).toBe(0);
    expect(await budget.models()).toEqual([]);
  });

  it('replace() sets exactly the given reservations', async () => {
    await budget.reserve(model, 'old-1', 400, 1_000);
    await budget.reserve(model, 'keep', 100, 1_000);
    await budget.replace(model, [
      { batchId: 'keep', tokens: 150 },
      { batchId: 'new-1', tokens: 2_000 }, // over the limit: the reconciler reports reality, it is not gated
      { batchId: 'new-2', tokens: 0 },
    ]);
    expect(await budget.snapshot(model)).toEqual({
      used: 2_150,
      reservations: new Map([['keep', 150], ['new-1', 2_000], ['new-2', 0]]),
    });
    expect(await budget.used(model)).toBe(2_150);
    expect((await budget.reserve(model, 'next', 1, 3_000)).used).toBe(2_151);

    // Rejected input leaves the state alone.
    await expect(budget.replace(model, [{ batchId: 'x', tokens: 1 }, { batchId: 'x', tokens: 2 }])).rejects.toMatchObject({
      name: 'BudgetError',
      code: 'duplicate-batch-id',
    });
    await expect(budget.replace(model, [{ batchId: 'x', tokens: -1 }])).rejects.toBeInstanceOf(BudgetError);
    expect(await budget.used(model)).toBe(2_151);

    await budget.replace(model, []);
    expect(await budget.snapshot(model)).toEqual({ used: 0, reservations: new Map() });
    const keys = budget.keys(model);
    expect(await redis.exists(keys.reservations, keys.used)).toBe(0);
  });

  it('replace() rebuilds a lost budget', async () => {
    await budget.reserve(model, 'a', 300, 1_000);
    await budget.reserve(model, 'b', 200, 1_000);
    const before = await budget.snapshot(model);
    await redis.del(...Object.values(budget.keys(model)), budget.modelsKey); // "Redis lost it"
    expect(await budget.used(model)).toBe(0);
    await budget.replace(model, [...before.reservations].map(([batchId, tokens]) => ({ batchId, tokens })));
    expect(await budget.snapshot(model)).toEqual(before);
    expect(await budget.models()).toEqual([model]);
  });

  it('lists the models that hold reservations', async () => {
    expect(await budget.models()).toEqual([]);
    await budget.reserve('gpt-4o-mini-2024-07-18', 'a', 10, 100);
    await budget.reserve('gpt-4.1', 'b', 10, 100);
    expect(await budget.models()).toEqual(['gpt-4.1', 'gpt-4o-mini-2024-07-18']);
    await budget.release('gpt-4.1', 'b');
    expect(await budget.models()).toEqual(['gpt-4o-mini-2024-07-18']);
    // Other prefixes are invisible.
    const other = new TokenBudget({ redis, prefix: `${prefix}:other` });
    expect(await other.models()).toEqual([]);
    expect(await other.used('gpt-4o-mini-2024-07-18')).toBe(0);
  });

  it('validates input with BudgetError before touching Redis', async () => {
    const calls: Array<() => Promise<unknown>> = [
      () => budget.reserve(model, 'b', -1, 100),
      () => budget.reserve(model, 'b', NaN, 100),
      () => budget.reserve(model, 'b', 1.5, 100),
      () => budget.reserve(model, 'b', Infinity, 100),
      () => budget.reserve(model, 'b', 10, -1),
      () => budget.reserve(model, 'b', 10, NaN),
      () => budget.reserve(model, '', 10, 100),
      () => budget.reserve('', 'b', 10, 100),
      () => budget.reserve('  ', 'b', 10, 100),
      () => budget.reserve('gpt{x}', 'b', 10, 100),
      () => budget.release(model, ''),
      () => budget.used(''),
      () => budget.replace(model, [{ batchId: '', tokens: 1 }]),
      () => budget.replace(model, null as never),
    ];
    for (const call of calls) await expect(call()).rejects.toBeInstanceOf(BudgetError);
    expect(() => new TokenBudget({ redis, prefix: '' })).toThrow(BudgetError);
    expect(await scanKeys(redis, `${prefix}:*`)).toEqual([]);
  });

  it('keeps each model in one hash slot, also under a hash-tagged prefix', () => {
    for (const p of [prefix, '{llm}', 'fleet{a']) {
      const keys = new TokenBudget({ redis, prefix: p }).keys('gpt-4o-mini');
      expect(hashTag(keys.reservations)).toBe(hashTag(keys.used));
    }
    const keys = budget.keys(model);
    expect(keys).toEqual({ reservations: `${prefix}:budget:{${model}}:res`, used: `${prefix}:budget:{${model}}:used` });
    expect(hashTag(keys.used)).toBe(model);
  });
});

it('falls back to EVAL when the script is not cached', async () => {
  const redis = connect();
  const key = `${prefix}:script-probe`;
  const lua = `-- ${randomUUID()}\nreturn redis.call('INCR', KEYS[1])`;
  const s = { name: 'probe', lua, sha: createHash('sha1').update(lua).digest('hex') };
  expect(await redis.script('EXISTS', s.sha)).toEqual([0]);
  expect(await runScript(redis, s, [key], [])).toBe(1); // NOSCRIPT -> EVAL
  expect(await redis.script('EXISTS', s.sha)).toEqual([1]);
  expect(await runScript(redis, s, [key], [])).toBe(2); // EVALSHA
});

it('replace() is atomic for concurrent readers', async () => {
  const model = 'gpt-4o';
  const writer = new TokenBudget({ redis: connect(), prefix });
  const reader = new TokenBudget({ redis: connect(), prefix });
  const setA = Array.from({ length: 50 }, (_, i) => ({ batchId: `a${i}`, tokens: 10 })); // sum 500
  const setB = Array.from({ length: 30 }, (_, i) => ({ batchId: `b${i}`, tokens: 7 })); // sum 210
  await writer.replace(model, setA);

  let writing = true;
  const seen = new Map<string, number>();
  const reading = (async () => {
    while (writing || seen.size === 0) {
      const { used, reservations } = await reader.snapshot(model);
      const sum = [...reservations.values()].reduce((a, b) => a + b, 0);
      const label = `${used}/${sum}/${reservations.size}`;
      seen.set(label, (seen.get(label) ?? 0) + 1);
    }
  })();
  for (let round = 0; round < 200; round++) await writer.replace(model, round % 2 === 0 ? setB : setA);
  writing = false;
  await reading;
  // Every read saw one whole set, never a mix.
  expect([...seen.keys()].every((label) => label === '500/500/50' || label === '210/210/30')).toBe(true);
});

describe('THE RACE: twenty concurrent submitters against one small limit', () => {
  it('never exceeds the limit and used always equals the sum of reservations', async () => {
    const model = 'gpt-4o-mini';
    const LIMIT = 1_000;
    const SUBMITTERS = 20;
    const ATTEMPTS_PER_SUBMITTER = 150;
    const MIN_SAMPLES = 200;

    const samplerRedis = connect();
    const samplerBudget = new TokenBudget({ redis: samplerRedis, prefix });
    const keys = samplerBudget.keys(model);

    const stats = { samples: 0, busySamples: 0, maxUsed: 0, maxHolders: 0, granted: 0, refused: 0, repeats: 0 };
    const overLimit: number[] = [];
    const mismatches: string[] = [];
    const badResults: string[] = [];
    let submittersDone = false;

    const sampler = (async () => {
      // Keep sampling until the submitters are done AND enough samples were taken.
      while (!submittersDone || stats.samples < MIN_SAMPLES) {
        let used: number;
        let held: number[];
        if (stats.samples % 2 === 0) {
          // Independent of the implementation: GET + HGETALL inside one MULTI.
          const replies = await samplerRedis.multi().get(keys.used).hgetall(keys.reservations).exec();
          const [[usedErr, usedRaw], [hashErr, hash]] = replies as [[Error | null, string | null], [Error | null, Record<string, string>]];
          if (usedErr || hashErr) throw usedErr ?? hashErr;
          used = usedRaw === null ? 0 : Number(usedRaw);
          held = Object.values(hash).map(Number);
        } else {
          // The budget's own atomic read (Lua).
          const snap = await samplerBudget.snapshot(model);
          used = snap.used;
          held = [...snap.reservations.values()];
        }
        const sum = held.reduce((a, b) => a + b, 0);
        stats.samples++;
        if (used > 0) stats.busySamples++;
        stats.maxUsed = Math.max(stats.maxUsed, used);
        stats.maxHolders = Math.max(stats.maxHolders, held.length);
        if (used > LIMIT) overLimit.push(used);
        if (used !== sum) mismatches.push(`used=${used} sum=${sum}`);
      }
    })();

    const submitter = async (index: number): Promise<void> => {
      const budget = new TokenBudget({ redis: connect(), prefix });
      for (let n = 0; n < ATTEMPTS_PER_SUBMITTER; n++) {
        const batchId = `sub${index}-batch${n}`;
        const tokens = randomInt(50, 401);
        const result = await budget.reserve(model, batchId, tokens, LIMIT);
        if (result.used > LIMIT) badResults.push(`${batchId}: used ${result.used}`);
        if (!result.ok) {
          stats.refused++;
          if (result.used + tokens <= LIMIT) badResults.push(`${batchId}: refused with room (${result.used}+${tokens})`);
          continue;
        }
        stats.granted++;
        if (n % 10 === 0) {
          // A retried reserve under contention must neither double count nor fail.
          const again = await budget.reserve(model, batchId, tokens, LIMIT);
          if (!again.ok || !again.alreadyHeld) badResults.push(`${batchId}: repeat reserve ${JSON.stringify(again)}`);
          stats.repeats++;
        }
        await new Promise((resolve) => setTimeout(resolve, randomInt(0, 3))); // hold the "batch" briefly
        if (!(await budget.release(model, batchId))) badResults.push(`${batchId}: release found nothing`);
        if (n % 10 === 0 && (await budget.release(model, batchId))) badResults.push(`${batchId}: released twice`);
      }
    };

    try {
      await Promise.all(Array.from({ length: SUBMITTERS }, (_, i) => submitter(i)));
    } finally {
      submittersDone = true;
      await sampler;
    }

    console.info(
      `[budget race] submitters=${SUBMITTERS} attempts=${SUBMITTERS * ATTEMPTS_PER_SUBMITTER} granted=${stats.granted} ` +
        `refused=${stats.refused} repeats=${stats.repeats} samples=${stats.samples} busySamples=${stats.busySamples} ` +
        `maxUsedSeen=${stats.maxUsed} limit=${LIMIT} maxConcurrentHolders=${stats.maxHolders}`,
    );

    expect(badResults).toEqual([]);
    expect(overLimit).toEqual([]);
    expect(mismatches).toEqual([]);
    expect(stats.maxUsed).toBeLessThanOrEqual(LIMIT);
    expect(stats.refused).toBeGreaterThan(0); // there was contention
    expect(stats.granted).toBeGreaterThan(0);
    expect(stats.granted + stats.refused).toBe(SUBMITTERS * ATTEMPTS_PER_SUBMITTER);
    expect(stats.busySamples).toBeGreaterThan(0); // the sampler really overlapped the submitters
    expect(stats.maxHolders).toBeGreaterThan(1);
    expect(await samplerBudget.snapshot(model)).toEqual({ used: 0, reservations: new Map() });
    expect(await samplerBudget.used(model)).toBe(0);
    expect(await samplerBudget.models()).toEqual([]);
  });
});
