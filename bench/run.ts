/**
 * Benchmarks (`npm run bench`): throughput of the hot paths on this machine, measured, never
 * asserted. Each stage runs against real PostgreSQL and Redis in a private schema and prefix.
 *   tokens   requests/s counted by the token counter (the dominant CPU cost)
 *   intake   items/s validated, estimated and stored (one set-based INSERT per job)
 *   build    items/s claimed and streamed into JSONL files
 *   e2e      items/s through the whole pipeline against the simulator (happy scenario)
 */
import { parseArgs } from 'node:util';
import { query } from '../src/store/sql.ts';
import { sampleItems, sampleTicket } from '../src/demo/samples.ts';
import { build } from '../src/pipeline/build.ts';
import { intake } from '../src/pipeline/intake.ts';
import { classifyTicket } from '../src/tasks/index.ts';
import { createTokenCounter } from '../src/tokens/index.ts';
import { startHarness } from '../test/support/fleet.ts';

const { values } = parseArgs({ options: { items: { type: 'string', default: '20000' } } });
const N = Number(values.items);
const rows: Array<{ bench: string; items: number; seconds: number; perSecond: number }> = [];

async function measure(bench: string, items: number, fn: () => Promise<void> | void): Promise<void> {
  const t0 = performance.now();
  await fn();
  const seconds = (performance.now() - t0) / 1000;
  rows.push({ bench, items, seconds: Number(seconds.toFixed(2)), perSecond: Math.round(items / seconds) });
  console.error(`${bench}: ${items} in ${seconds.toFixed(2)} s`);
}

const counter = createTokenCounter();
const bodies = Array.from({ length: N }, (_, i) => classifyTicket.buildRequest(sampleTicket(i), {}));
await measure('tokens (chat requests counted)', N, () => {
  for (const b of bodies) counter.countRequest('/v1/chat/completions', b);
});

const h = await startHarness({ roles: false, env: { MAX_IN_FLIGHT_PER_TASK: '1000', TOKEN_LIMITS: JSON.stringify({ 'gpt-4o-mini': 1_000_000_000 }) } });
try {
  const items = sampleItems('bench', N * 2).filter((i) => i.task === 'classify-ticket').map(({ externalId, input }) => ({ externalId, input }));
  await measure('intake (validate, estimate, store)', items.length, async () => {
    for (let i = 0; i < items.length; i += 2_000) await intake(h.ctx, { task: 'classify-ticket', items: items.slice(i, i + 2_000) });
  });
  await measure('build (claim, stream JSONL)', items.length, async () => {
    await build(h.ctx, 'classify-ticket');
  });
  const [b] = await query<{ n: number; bytes: number }>(h.ctx.db, `select count(*)::int as n, sum(bytes)::float8 as bytes from batches`);
  console.error(`  built ${b!.n} batch file(s), ${(b!.bytes / 1e6).toFixed(1)} MB`);
} finally {
  await h.close();
}

const e2e = await startHarness({ scenario: 'happy' });
try {
  const n = Math.min(N, 10_000);
  const items = sampleItems('e2e', n);
  await measure('end to end (intake → processed, simulator)', n, async () => {
    for (const task of ['classify-ticket', 'summarize-article']) {
      const mine = items.filter((i) => i.task === task).map(({ externalId, input }) => ({ externalId, input }));
      for (let i = 0; i < mine.length; i += 1_000) await e2e.ctx.queues.intake.add('intake', { task, items: mine.slice(i, i + 1_000) });
    }
    await e2e.startFleet();
    for (;;) {
      const [r] = await query<{ n: number }>(e2e.ctx.db, `select count(*)::int as n from items where status in ('succeeded', 'failed')`);
      if (r!.n >= n) break;
      await new Promise((res) => setTimeout(res, 100));
    }
  });
} finally {
  await e2e.close();
}

console.table(rows);
