import type { Queue } from 'bullmq';
import { resultChunkSchema, type ResultMessage } from '../../src/queues/payloads.ts';

type State = 'waiting' | 'active' | 'completed' | 'failed' | 'delayed';

/** Every result message in the results jobs of these states (each job's data parsed as a chunk). */
export async function resultMessages(queue: Queue, states: State[] = ['waiting', 'active', 'completed', 'failed', 'delayed']): Promise<ResultMessage[]> {
  const jobs = await queue.getJobs(states, 0, -1);
  return jobs.flatMap((job) => resultChunkSchema.parse(job.data).results);
}
