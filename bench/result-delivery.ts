/**
 * Redis commands per result of the results queue, on a private redis-server (INFO commandstats,
 * which counts the calls made inside Lua scripts too): the fleet's publisher (`publishResults`,
 * chunks of 1,000 committed rows), a producer's `onResult` consumer draining them, then a second
 * publish with nobody consuming, so that `retention.maxWaiting` trims. Also the Redis server's CPU time
 * in each phase (used_cpu_user + used_cpu_sys).
 *
 *   npx tsx bench/result-delivery.ts [--results N (10000)] [--json]
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { createClient } from '../src/client/index.ts';
import { resultsQueueName } from '../src/queues/names.ts';
import type { CommittedResult } from '../src/queues/result-jobs.ts';
import { publishResults } from '../src/queues/result-publisher.ts';
import { classifyTicket } from '../src/tasks/index.ts';
import { startRedis } from './lib/services.ts';

const { values } = parseArgs({ options: { results: { type: 'string', default: '10000' }, json: { type: 'boolean', default: false } } });
const RESULTS = Number(values.results);
const CHUNK = 1_000;
const task = classifyTicket;

function committed(i: number): CommittedResult {
  return {
    id: randomUUID(), external_id: `bench-${i}`, status: 'succeeded',
    output: { category: 'bug', priority: 'high', summary: `The customer cannot log in since the update (ticket ${i}).` },
    error_code: null, error_message: null, attempts: 1, requeues: 0, input_tokens: 180, cached_tokens: 0, output_tokens: 40,
    cost_usd: 0.0000513, finished_at: new Date(), history: null,
  };
}

interface Phase { phase: string; results: number; commands: number; perResult: number; redisCpuMs: number; top: Array<[string, number]> }

const server = await startRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const prefix = `bench-res-${randomUUID().slice(0, 8)}`;
const redis = new Redis(server.url, { maxRetriesPerRequest: null });
const queue = new Queue(resultsQueueName(task.name), { connection: redis, prefix });
await queue.waitUntilReady();
const phases: Phase[] = [];

async function measure(phase: string, results: number, body: () => Promise<void>): Promise<void> {
  const before = await server.commandCalls();
  const cpu = await server.cpuSeconds();
  await body();
  const redisCpuMs = ((await server.cpuSeconds()) - cpu) * 1_000;
  const after = await server.commandCalls();
  const delta = Object.entries(after)
    .map(([k, v]) => [k, v - (before[k] ?? 0)] as [string, number])
    .filter(([k, v]) => v > 0 && k !== 'info') // the bench's own INFO calls
    .sort((a, b) => b[1] - a[1]);
  const commands = delta.reduce((a, [, v]) => a + v, 0);
  phases.push({ phase, results, commands, perResult: commands / results, redisCpuMs, top: delta.slice(0, 8) });
}

const publish = async (from: number, n: number) => {
  for (let i = from; i < from + n; i += CHUNK) await publishResults(queue, redis, task, Array.from({ length: Math.min(CHUNK, from + n - i) }, (_, j) => committed(i + j)));
};

try {
  await measure('publish (nobody consuming yet)', RESULTS, () => publish(0, RESULTS));
  const client = createClient({ redis, prefix, tasks: [task] });
  let handled = 0;
  await measure('consume with onResult', RESULTS, async () => {
    let done: () => void;
    const all = new Promise<void>((resolve) => (done = resolve));
    const consumer = await client.onResult(task, () => {
      if (++handled === RESULTS) done();
    });
    await all;
    await consumer.close();
  });
  await client.close();
  await measure('publish 2x maxWaiting, nobody consuming (trims)', 2 * 10_000, () => publish(RESULTS, 2 * 10_000));
} finally {
  await queue.close();
  await server.clear(prefix);
  redis.disconnect();
  await server.close();
}

if (values.json) console.log(JSON.stringify({ private: server.private, phases }, null, 2));
else {
  if (!server.private) console.log('(shared Redis: the counts include other clients)');
  for (const p of phases) {
    console.log(`${p.phase}: ${p.results} results, ${p.commands} commands, ${p.perResult.toFixed(3)} per result, Redis CPU ${p.redisCpuMs.toFixed(0)} ms`);
    console.log(`  top: ${p.top.map(([k, v]) => `${k} ${v}`).join(', ')}`);
  }
}
