/*
 * Provider-call metrics: a counter and two histograms kept in this process. They are the only
 * metrics that are not read from PostgreSQL, Redis or BullMQ on scrape, because nothing stores
 * them: every process that calls the provider records its own calls here, and the admin server
 * of that process exposes them next to the database-backed series.
 *
 * Wiring: wrap the provider once where the context is built,
 *   provider: instrumentProvider(overrides.provider ?? new OpenAIBatchProvider(...))
 * or call `recordProviderCall(op, outcome, seconds)` from any other wrapper.
 */
import { Counter, Histogram, Registry } from 'prom-client';
import { ProviderError } from '../errors.ts';
import type { BatchProvider } from '../provider/provider.ts';

/** Outcome label of a provider call. */
export type ProviderCallOutcome = 'ok' | 'retryable_error' | 'error';

/** The operation whose duration is reported as poll latency. */
export const POLL_OP = 'retrieveBatch';

/** Registry of this process's provider-call metrics; the admin server merges it into every scrape. */
export const processRegistry = new Registry();

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

const calls = new Counter({
  name: 'batchfleet_provider_calls_total',
  help: 'Calls to the batch provider by this process, by operation and outcome (ok | retryable_error | error).',
  labelNames: ['op', 'outcome'] as const,
  registers: [processRegistry],
});

const durations = new Histogram({
  name: 'batchfleet_provider_call_duration_seconds',
  help: 'Duration of calls to the batch provider by this process, by operation.',
  labelNames: ['op'] as const,
  buckets: BUCKETS,
  registers: [processRegistry],
});

const pollLatency = new Histogram({
  name: 'batchfleet_poll_latency_seconds',
  help: `Duration of batch status retrievals (${POLL_OP}), the provider call of every poll.`,
  buckets: BUCKETS,
  registers: [processRegistry],
});

/**
 * Records one provider call. `op` is the provider method (`retrieveBatch`, `createBatch`, …);
 * `outcome` is `ok`, `retryable_error` or `error`; `seconds` its duration. Never throws.
 */
export function recordProviderCall(op: string, outcome: ProviderCallOutcome | string, seconds: number): void {
  const s = Number.isFinite(seconds) && seconds >= 0 ? seconds : 0;
  calls.inc({ op, outcome });
  durations.observe({ op }, s);
  if (op === POLL_OP) pollLatency.observe(s);
}

/** The outcome label of an error thrown by a provider call. */
export function outcomeOf(err: unknown): ProviderCallOutcome {
  return err instanceof ProviderError && err.retryable ? 'retryable_error' : 'error';
}

const seconds = (startNs: bigint): number => Number(process.hrtime.bigint() - startNs) / 1e9;

async function timed<T>(op: string, fn: () => Promise<T>): Promise<T> {
  const start = process.hrtime.bigint();
  try {
    const value = await fn();
    recordProviderCall(op, 'ok', seconds(start));
    return value;
  } catch (err) {
    recordProviderCall(op, outcomeOf(err), seconds(start));
    throw err;
  }
}

/** Times a whole iteration (first request to last item) as one call. */
async function* timedIterable<T>(op: string, source: () => AsyncIterable<T>): AsyncGenerator<T> {
  const start = process.hrtime.bigint();
  let outcome: ProviderCallOutcome = 'ok';
  try {
    yield* source();
  } catch (err) {
    outcome = outcomeOf(err);
    throw err;
  } finally {
    recordProviderCall(op, outcome, seconds(start));
  }
}

/** A provider that records every call with {@link recordProviderCall}; behaviour is unchanged. */
export function instrumentProvider(provider: BatchProvider): BatchProvider {
  return {
    uploadFile: (path, filename, signal) => timed('uploadFile', () => provider.uploadFile(path, filename, signal)),
    findFileByName: (filename) => timed('findFileByName', () => provider.findFileByName(filename)),
    createBatch: (params) => timed('createBatch', () => provider.createBatch(params)),
    findBatchByMetadata: (key, value) => timed('findBatchByMetadata', () => provider.findBatchByMetadata(key, value)),
    retrieveBatch: (id, signal) => timed(POLL_OP, () => provider.retrieveBatch(id, signal)),
    cancelBatch: (id) => timed('cancelBatch', () => provider.cancelBatch(id)),
    listBatches: () => timedIterable('listBatches', () => provider.listBatches()),
    listBatchFiles: () => timedIterable('listBatchFiles', () => provider.listBatchFiles()),
    fileLines: (fileId, signal) => timedIterable('fileLines', () => provider.fileLines(fileId, signal)),
    deleteFile: (fileId) => timed('deleteFile', () => provider.deleteFile(fileId)),
    request: (endpoint, body, signal) => timed('request', () => provider.request(endpoint, body, signal)),
  };
}
