import { expect } from 'vitest';
import type { ClientStats } from 'openai-batch-simulator';
import type { TestHarness } from './fleet.ts';

/**
 * Asserts that the simulator saw exactly one provider batch per batch row of ours (by metadata
 * id), no input file submitted twice and nothing paid twice. Returns the client's stats.
 */
export function expectOneProviderBatchPerBatch(h: TestHarness, ourBatchIds: string[]): ClientStats {
  const clients = Object.values(h.sim.stats().clients);
  expect(clients).toHaveLength(1);
  const seen = clients[0]!;
  expect(seen.batchesCreated).toBe(ourBatchIds.length);
  expect(Object.keys(seen.batchesByMetadata.batchfleet_batch_id ?? {}).sort()).toEqual([...ourBatchIds].sort());
  expect(Object.values(seen.batchesByMetadata.batchfleet_batch_id ?? {}).every((v) => v.count === 1)).toBe(true);
  expect(seen.duplicateInputFiles).toEqual([]);
  expect(seen.customIds.succeededMoreThanOnce).toBe(0);
  return seen;
}
