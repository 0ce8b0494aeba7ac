// A producer service in plain JavaScript: send support tickets to batchfleet, then take the
// results off the task's results queue with `onResult` (at least once: deduplicate on the key).
//
//   REDIS_URL=redis://127.0.0.1:6379 BATCHFLEET_PREFIX=batchfleet node index.mjs [count]
//
// A fleet (`npx batchfleet worker`) and a provider (OpenAI, or `npx batchfleet simulator`) must run.
import { createClient } from 'batchfleet/client';
import { classifyTicket } from 'batchfleet/tasks';

const count = Number(process.argv[2] ?? 20);
const run = `example-${Date.now().toString(36)}`;
const client = createClient({ redis: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', tasks: [classifyTicket] });

// What a real service would keep in its own database: results it has already applied.
const applied = new Set();
const externalIds = new Set();
let done;
const allIn = new Promise((resolve) => (done = resolve));

const consumer = await client.onResult(classifyTicket, async (result, { idempotenceKey }) => {
  if (applied.has(idempotenceKey)) return; // a redelivery of a result already applied
  applied.add(idempotenceKey);
  if (!externalIds.has(result.externalId)) return; // another run's result: a real service would apply it too
  if (result.status === 'succeeded') {
    console.log(`${result.externalId}: ${result.output.category}/${result.output.priority}: ${result.output.summary} ($${result.costUsd.toFixed(6)})`);
  } else {
    console.log(`${result.externalId}: failed (${result.error.code}) after ${result.attempts} attempt(s): ${result.error.message}`);
  }
  externalIds.delete(result.externalId);
  if (externalIds.size === 0) done();
});

const tickets = Array.from({ length: count }, (_, i) => ({
  externalId: `${run}-${i}`,
  input: { subject: `Ticket ${i}: cannot export invoices`, body: 'Since this morning the export button shows an error and our accountant is waiting.' },
}));
for (const t of tickets) externalIds.add(t.externalId);
await client.enqueue(classifyTicket, tickets);
console.log(`enqueued ${count} tickets as ${run}-*`);

const status = await client.status(classifyTicket);
if (status.held) console.log(`the fleet holds this task: ${status.held.reason} (next try in ${Math.round(status.held.expectedWaitMs / 1000)} s)`);

const timeout = setTimeout(() => {
  console.error(`timed out with ${externalIds.size} result(s) missing`);
  process.exit(1);
}, Number(process.env.EXAMPLE_TIMEOUT_MS ?? 300_000));
await allIn;
clearTimeout(timeout);
console.log(`all ${count} results in`);
await consumer.close();
await client.close();
