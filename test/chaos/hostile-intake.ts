/*
 * Malformed intake payloads from many templates, sent through a real intake worker (real Redis, real
 * PostgreSQL). Used by test/chaos/hostile-intake.test.ts with a small count and by
 * `npm run chaos:intake` (test/chaos/hostile-intake-run.ts) with 10,000.
 *
 * Every job must end either failed on its first attempt with a reason naming the field (whole payload bad),
 * or completed with exactly its good items stored and each bad item rejected with a rejection row.
 */
import { Job } from 'bullmq';
import { query } from '../../src/store/sql.ts';
import { createMetricsCollector } from '../../src/admin/metrics.ts';
import type { TestHarness } from '../support/fleet.ts';
import { waitFor } from '../support/wait.ts';

const NUL = '\u0000';
const LONE = '\uD800';

interface Case {
  /** Data given to queue.add, or a raw string written over the job's data in Redis (`raw`). */
  data: unknown;
  raw?: string;
  /** Whole payload rejected: a substring its reason must contain. */
  rejects?: string;
  /** Mixed job: externalIds that must be stored, and the number of entries that must be rejected. */
  good?: string[];
  bad?: number;
}

type Template = (id: string, big: boolean) => Case;

const ticket = (subject = 'Refund', body = 'Please refund my order') => ({ subject, body });

/** The templates: whole-payload rejections first, then mixed jobs. `big` turns on the costly variants rarely. */
export const TEMPLATES: Record<string, Template> = {
  nullPayload: () => ({ data: null, rejects: 'payload must be a JSON object' }),
  stringPayload: () => ({ data: 'hello', rejects: 'payload must be a JSON object' }),
  numberPayload: () => ({ data: 42, rejects: 'payload must be a JSON object' }),
  arrayPayload: () => ({ data: [{ task: 'classify-ticket' }], rejects: 'payload must be a JSON object' }),
  noTask: () => ({ data: { items: [{ externalId: 'x', input: ticket() }] }, rejects: 'task is missing' }),
  numericTask: () => ({ data: { task: 7, items: [] }, rejects: 'task must be a string, got a number' }),
  emptyTask: () => ({ data: { task: '', items: [] }, rejects: 'task must not be empty' }),
  hugeTask: (_, big) => ({ data: { task: 't'.repeat(big ? 1_048_576 : 5_000), items: [] }, rejects: 'task is longer than 200 characters' }),
  nulTask: () => ({ data: { task: `classify${NUL}`, items: [] }, rejects: 'task contains a NUL character' }),
  surrogateTask: () => ({ data: { task: `classify${LONE}`, items: [] }, rejects: 'task contains a lone surrogate' }),
  unknownTask: (id) => ({ data: { task: `no-such-task-${id}`, items: [{ externalId: id, input: {} }] }, rejects: 'unknown task' }),
  itemsNull: () => ({ data: { task: 'classify-ticket', items: null }, rejects: 'items must be an array, got null' }),
  itemsObject: () => ({ data: { task: 'classify-ticket', items: { a: 1 } }, rejects: 'items must be an array, got an object' }),
  itemsEmpty: () => ({ data: { task: 'classify-ticket', items: [] }, rejects: 'items is empty' }),
  tooManyItems: (id) => ({
    data: { task: 'classify-ticket', items: Array.from({ length: 10_001 }, (_, i) => ({ externalId: `${id}-${i}`, input: 1 })) },
    rejects: 'more than 10,000 items',
  }),
  unknownField: () => ({ data: { task: 'classify-ticket', items: [], priority: 'high' }, rejects: 'unknown field "priority"' }),
  bothForms: (id) => ({ data: { task: 'classify-ticket', items: [], externalId: id, input: ticket() }, rejects: 'payload has both' }),
  singleNumericId: () => ({ data: { task: 'classify-ticket', externalId: 12, input: ticket() }, rejects: 'externalId must be a string, got a number' }),
  singleNullInput: (id) => ({ data: { task: 'classify-ticket', externalId: id, input: null }, rejects: 'input is missing' }),
  singleNulInput: (id) => ({ data: { task: 'classify-ticket', externalId: id, input: ticket(`a${NUL}b`) }, rejects: 'input.subject contains a NUL character' }),
  singleNulId: (id) => ({ data: { task: 'classify-ticket', externalId: `${id}${NUL}`, input: ticket() }, rejects: 'externalId contains a NUL character' }),
  notJson: () => ({ data: { task: 'classify-ticket', items: [] }, raw: '{"task": "classify-ticket", items: [oops', rejects: 'job data is not JSON' }),
  mixedNul: (id) => ({
    data: { task: 'classify-ticket', items: [{ externalId: `${id}-g1`, input: ticket() }, { externalId: `${id}-b1`, input: ticket('ok', `x${NUL}y`) }, { externalId: `${id}-g2`, input: ticket('Hi 😀') }] },
    good: [`${id}-g1`, `${id}-g2`],
    bad: 1,
  }),
  mixedSurrogates: (id) => ({
    data: { task: 'summarize-article', items: [{ externalId: `${id}-g1`, input: { title: 't', text: 'fine text' } }, { externalId: `${id}-b1`, input: { title: `t${LONE}`, text: 'x' } }, { externalId: `${id}-b2`, input: { title: 't', text: '\uDC00x' } }] },
    good: [`${id}-g1`],
    bad: 2,
  }),
  mixedKeys: (id) => ({
    data: { task: 'classify-ticket', items: [{ externalId: `${id}-b1`, input: { ...ticket(), [`k${NUL}`]: 1 } }, { externalId: `${id}-g1`, input: ticket() }] },
    good: [`${id}-g1`],
    bad: 1,
  }),
  mixedIds: (id) => ({
    data: {
      task: 'classify-ticket',
      items: [
        { externalId: 5, input: ticket() },
        { externalId: '', input: ticket() },
        { externalId: 'x'.repeat(300), input: ticket() },
        { externalId: `${id}${NUL}n`, input: ticket() },
        { externalId: `${id}-g1`, input: ticket() },
      ],
    },
    good: [`${id}-g1`],
    bad: 4,
  }),
  mixedShapes: (id) => ({
    data: { task: 'classify-ticket', items: ['nope', null, 3, [], { externalId: `${id}-b1` }, { externalId: `${id}-g1`, input: ticket() }] },
    good: [`${id}-g1`],
    bad: 5,
  }),
  mixedSchema: (id) => ({
    data: { task: 'classify-ticket', items: [{ externalId: `${id}-b1`, input: { subject: 3, body: 'x' } }, { externalId: `${id}-b2`, input: { subject: 's'.repeat(600), body: 'x' } }, { externalId: `${id}-g1`, input: ticket() }] },
    good: [`${id}-g1`],
    bad: 2,
  }),
  mixedDeep: (id) => {
    let deep: unknown = 'x';
    for (let i = 0; i < 200; i++) deep = { d: deep };
    return { data: { task: 'classify-ticket', items: [{ externalId: `${id}-b1`, input: deep }, { externalId: `${id}-g1`, input: ticket() }] }, good: [`${id}-g1`], bad: 1 };
  },
  mixedDuplicates: (id) => ({
    data: { task: 'classify-ticket', items: [{ externalId: `${id}-g1`, input: ticket() }, { externalId: `${id}-g1`, input: ticket('other') }, { externalId: `${id}-b1`, input: null }] },
    good: [`${id}-g1`],
    bad: 1,
  }),
  longLetters: (id, big) => ({
    data: { task: 'summarize-article', items: [{ externalId: `${id}-g1`, input: { title: 'letters', text: 'abcdefghij'.repeat(big ? 10_000 : 1_000) } }, { externalId: `${id}-b1`, input: { title: 'letters', text: 'a'.repeat(100_001) } }] },
    good: [`${id}-g1`],
    bad: 1,
  }),
};

const NAMES = Object.keys(TEMPLATES);

/** Costly variants (1 MB task names, 100,000 letters) in one job out of this many. */
const BIG_EVERY = 200;
/** `tooManyItems` (10,001 entries) appears at most this often. */
const TOO_MANY_EVERY = 500;

export interface HostileFigures {
  jobs: number;
  byTemplate: Record<string, number>;
  rejectedJobs: number;
  mixedJobs: number;
  goodItemsStored: number;
  badItemsRejected: number;
  rejectionRows: number;
  rejectionMetric: number;
  metricsBytes: number;
  /** Everything that broke an invariant; empty when the run held. */
  violations: string[];
  ms: number;
}

/** Sends `count` malformed jobs through `h`'s intake worker and checks every outcome. */
export async function runHostileIntake(h: TestHarness, count: number, runId: string): Promise<HostileFigures> {
  const started = Date.now();
  const queue = h.ctx.queues.intake;
  const cases: Array<{ name: string; jobId: string; c: Case }> = [];
  const byTemplate: Record<string, number> = {};
  for (let i = 0; i < count; i++) {
    let name = NAMES[i % NAMES.length]!;
    if (name === 'tooManyItems' && i % TOO_MANY_EVERY >= NAMES.length) name = 'mixedNul';
    const c = TEMPLATES[name]!(`${runId}-${i}`, i % BIG_EVERY < NAMES.length);
    const jobId = `${runId}-${i}`;
    if (c.raw !== undefined) {
      // Written as a delayed job, corrupted, then promoted, so no worker can take it before the corruption.
      const job = await queue.add('intake', c.data, { jobId, delay: 60_000 });
      await h.ctx.redis.hset(`${h.prefix}:${queue.name}:${job.id}`, 'data', c.raw);
      await job.promote();
    } else {
      await queue.add('intake', c.data, { jobId });
    }
    cases.push({ name, jobId, c });
    byTemplate[name] = (byTemplate[name] ?? 0) + 1;
  }

  await waitFor(
    'every hostile job finished',
    async () => {
      const n = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      return Object.values(n).every((v) => v === 0);
    },
    Math.max(120_000, count * 60),
    250,
  );

  const violations: string[] = [];
  const rowsByJob = new Map<string, number>();
  for (const r of await query<{ job_id: string; n: number }>(h.ctx.db, 'select job_id, count(*)::int as n from rejections where job_id like $1 group by job_id', `${runId}-%`)) {
    rowsByJob.set(r.job_id, r.n);
  }
  let rejectedJobs = 0;
  let mixedJobs = 0;
  let goodExpected = 0;
  let badExpected = 0;
  const goodIds: string[] = [];
  for (const { name, jobId, c } of cases) {
    if (c.raw !== undefined) {
      // Its data is still not JSON, so read the job's fields directly rather than through Job.fromId.
      rejectedJobs++;
      const state = await queue.getJobState(jobId);
      const [reason, attempts] = await h.ctx.redis.hmget(`${h.prefix}:${queue.name}:${jobId}`, 'failedReason', 'atm');
      if (state !== 'failed' || Number(attempts) !== 1 || !reason?.includes(c.rejects!)) violations.push(`${name} ${jobId}: ${state} after ${attempts} attempts: ${reason}`);
      continue;
    }
    const rowCount = rowsByJob.get(jobId) ?? 0;
    if (c.rejects !== undefined) {
      rejectedJobs++;
      const job = await Job.fromId(queue, jobId);
      const state = job ? await job.getState() : 'missing';
      if (!job || state !== 'failed') violations.push(`${name} ${jobId}: expected failed, got ${state}`);
      else if (job.attemptsMade !== 1) violations.push(`${name} ${jobId}: failed after ${job.attemptsMade} attempts, not on the first`);
      else if (!job.failedReason.includes(c.rejects)) violations.push(`${name} ${jobId}: reason "${job.failedReason.slice(0, 200)}" lacks "${c.rejects}"`);
      if (rowCount !== 1) violations.push(`${name} ${jobId}: ${rowCount} rejection rows, expected 1`);
      continue;
    }
    mixedJobs++;
    goodExpected += c.good!.length;
    badExpected += c.bad!;
    goodIds.push(...c.good!);
    if (rowCount !== c.bad) violations.push(`${name} ${jobId}: ${rowCount} rejection rows, expected ${c.bad}`);
    // Completed jobs beyond the queue's last 1,000 are trimmed by removeOnComplete; those still there are checked too.
    const job = await Job.fromId(queue, jobId);
    if (job) {
      const state = await job.getState();
      const rv = job.returnvalue as { rejected?: unknown[] } | null;
      if (state !== 'completed') violations.push(`${name} ${jobId}: expected completed, got ${state} (${job.failedReason?.slice(0, 200)})`);
      else if (rv?.rejected?.length !== c.bad) violations.push(`${name} ${jobId}: ${rv?.rejected?.length} entries rejected, expected ${c.bad}`);
    } else if ((await queue.getJobState(jobId)) !== 'unknown') {
      violations.push(`${name} ${jobId}: job unreadable`);
    }
  }

  const stored = new Set<string>();
  for (let i = 0; i < goodIds.length; i += 5_000) {
    const rows = await query<{ external_id: string }>(h.ctx.db, 'select external_id from items where external_id = any($1::text[])', goodIds.slice(i, i + 5_000));
    for (const r of rows) stored.add(r.external_id);
  }
  for (const id of goodIds) if (!stored.has(id)) violations.push(`good item ${id} not stored`);
  if (goodExpected !== goodIds.length) violations.push('internal: good item count mismatch');

  // One rejection row per rejected payload (non-JSON data fails before intake and is counted by a metric instead).
  const nonJson = cases.filter((x) => x.c.raw !== undefined).length;
  const [rows] = await query<{ n: number }>(h.ctx.db, `select count(*)::int as n from rejections where job_id like $1`, `${runId}-%`);
  const expectedRows = rejectedJobs - nonJson + badExpected;
  if (rows!.n !== expectedRows) violations.push(`${rows!.n} rejection rows, expected ${expectedRows}`);

  const metrics = await createMetricsCollector(h.ctx).render();
  const rejectionMetric = metrics
    .split('\n')
    .filter((l) => l.startsWith('batchfleet_intake_rejections_total{'))
    .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
  const [allRows] = await query<{ n: number }>(h.ctx.db, 'select count(*)::int as n from rejections');
  if (rejectionMetric !== allRows!.n) violations.push(`rejection metric ${rejectionMetric} != ${allRows!.n} rejection rows`);
  const metricsBytes = Buffer.byteLength(metrics);
  if (metricsBytes >= 100_000) violations.push(`/metrics is ${metricsBytes} bytes`);

  return {
    jobs: count,
    byTemplate,
    rejectedJobs,
    mixedJobs,
    goodItemsStored: goodIds.filter((id) => stored.has(id)).length,
    badItemsRejected: badExpected,
    rejectionRows: rows!.n,
    rejectionMetric,
    metricsBytes,
    violations,
    ms: Date.now() - started,
  };
}
