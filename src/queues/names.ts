/** The pipeline's queues, in the order data flows through them. */
export const QUEUES = {
  intake: 'intake',
  build: 'build',
  submit: 'submit',
  poll: 'poll',
  process: 'process',
  sync: 'sync',
} as const;

export type Role = keyof typeof QUEUES;
export const ROLES = Object.keys(QUEUES) as Role[];

/** Each task's results are announced on their own queue. */
export function resultsQueueName(task: string): string {
  return `results.${task}`;
}

/** Redis key of a task's hold notice (see notices.ts), next to the queues under the same prefix. */
export function holdNoticeKey(prefix: string, task: string): string {
  return `${prefix}:bf:held:${task}`;
}

/** Redis key counting results dropped unconsumed from a task's results queue (they stay in PostgreSQL). */
export function droppedResultsKey(prefix: string, task: string): string {
  return `${prefix}:bf:results-dropped:${task}`;
}

/** Deterministic job ids (BullMQ forbids ':' in custom ids). */
export const jobIds = {
  build: (task: string) => `build-${task}`,
  sync: (task: string) => `sync-${task}`,
  submit: (batchId: string, submission: number) => `submit-${batchId}-${submission}`,
  poll: (batchId: string, submission: number) => `poll-${batchId}-${submission}`,
  process: (batchId: string) => `process-${batchId}`,
};
