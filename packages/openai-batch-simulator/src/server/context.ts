/** Everything a route handler can reach. */
import type { BatchEngine } from '../batch-engine.ts';
import type { SimClock } from '../clock.ts';
import type { FileStore } from '../file-store.ts';
import type { PromptCache } from '../prompt-cache.ts';
import type { Scenario } from '../scenarios.ts';
import type { SimulatorStats, StatsTracker } from '../stats.ts';
import type { TokenCounter } from '../token-counter.ts';

export interface SimContext {
  scenario: Scenario;
  clock: SimClock;
  files: FileStore;
  engine: BatchEngine;
  stats: StatsTracker;
  counter: TokenCounter;
  promptCache: PromptCache | null;
  logger: { info(...a: unknown[]): void; warn(...a: unknown[]): void };
  /** When set, every key belongs to this organization (else each project is its own). */
  organizationOverride?: string;
  /** Counter of create calls (files and batches) for the lost-response fault. */
  createCounter: { n: number };
  /** Counter of synchronous inference calls (response ids). */
  syncCounter: { n: number };
  /** Counter of uploads for the not-found-after-upload fault. */
  uploadCounter: { n: number };
  /** The inspection report. */
  snapshot(): SimulatorStats;
  /** Clear all state (files, batches, stats). */
  reset(): Promise<void>;
}
