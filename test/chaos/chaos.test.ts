import { describe, expect, it } from 'vitest';
import { runChaos, fmt } from './chaos.ts';

/*
 * The short chaos run of the normal suite: 2 worker processes per role, 3,000 items, 20 seeded
 * SIGKILLs with restarts and one Redis loss. The long run is `npm run chaos` (test/chaos/run.ts).
 */
describe('chaos', () => {
  it('keeps every effect exactly once while workers are SIGKILLed at random and Redis is lost', async () => {
    const lines: string[] = [];
    const figures = await runChaos({ items: 3_000, kills: 20, seed: 20261122, killGapMs: [400, 1600], log: (l) => lines.push(l) });
    const summary = `${lines.join('\n')}\n${JSON.stringify({ ...figures, processReport: undefined, stateAtEnd: undefined }, null, 1)}`;
    if (figures.violations.length > 0) console.error(`${summary}\n${figures.stateAtEnd}\n${figures.processReport}`);
    else console.log(`chaos: ${figures.kills.length} kills, ${fmt(figures.totalMs)} in all\n${summary}`);

    expect(figures.kills).toHaveLength(20);
    expect(new Set(figures.kills.map((k) => k.role)).size).toBeGreaterThanOrEqual(3);
    expect(figures.redisLoss?.keysDeleted).toBeGreaterThan(0);
    expect(figures.violations).toEqual([]);
    const inv = figures.invariants;
    expect(inv.items).toBe(3_000);
    expect(inv.succeeded + inv.failed).toBe(3_000);
    expect(inv.succeeded).toBeGreaterThan(2_990);
    expect(inv.providerBatches).toBeGreaterThanOrEqual(inv.batches);
    expect(inv.duplicateSubmissions).toBe(0);
    expect(inv.duplicateInputFiles).toEqual([]);
    expect(inv.succeededMoreThanOnce).toBe(0);
    expect(inv.costUsd.items).toBe(inv.costUsd.attempts);
    expect(inv.costUsd.items).toBe(inv.costUsd.batches);
  }, 600_000); // a hang detector: start-up, the kills and up to 240 s of drain on a loaded machine
});
