import { setImmediate } from 'node:timers/promises';
import { IntakeRejectedError } from '../errors.ts';
import { checkIntakePayload } from '../intake/payload-check.ts';
import { safeText } from '../intake/sanitize.ts';
import { estimatedTokens } from '../monitoring/process-metrics.ts';
import type { IntakeOutcome } from '../queues/payloads.ts';
import { resolveLimits, type AnyTask } from '../tasks/contract.ts';
import * as itemStore from '../store/items.ts';
import { uuidv7 } from '../store/uuid7.ts';
import type { NewItem } from '../store/items.ts';
import * as rejections from '../store/rejections.ts';
import type { PipelineContext } from './context.ts';
import { triggerBuild } from './triggers.ts';

/**
 * Validating and counting the tokens of 1,000 items holds the event loop for 100 ms or more. Intake
 * lets it turn every this many items, so a build or a result chunk in the same process gets its
 * database answers within milliseconds instead of waiting behind four intake jobs; the first
 * batch of a run was otherwise built seconds late.
 */
const YIELD_EVERY_ITEMS = 100;

/** Records a rejected payload or item so it is counted and visible, never silently dropped. */
export async function recordRejection(ctx: PipelineContext, reason: string, task: string | null, jobId: string | null): Promise<void> {
  await rejections.record(ctx.db, {
    reason: safeText(reason, 2_000),
    task: task === null ? null : safeText(task, 200),
    jobId: jobId === null ? null : safeText(jobId, 200),
    at: ctx.now(),
  });
}

function describeIssues(issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>): string {
  return issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.map(String).join('.') : '(payload)'}: ${i.message}`)
    .join('; ');
}

/** The per-request size of one item: its estimated input tokens and its JSONL line bytes. */
export function estimateItem(ctx: PipelineContext, task: AnyTask, input: unknown, maxOutputTokens?: number): { tokens: number; bytes: number } {
  const body = task.buildRequest(input, { maxOutputTokens });
  const tokens = ctx.tokens.countRequest(task.endpoint, body);
  const line = JSON.stringify({ custom_id: '00000000-0000-0000-0000-000000000000', method: 'POST', url: task.endpoint, body });
  return { tokens, bytes: Buffer.byteLength(line) + 1 };
}

/**
 * Intake: validates a producer payload and stores its items idempotently on (task, external id).
 * A bad payload is rejected whole with a reason; a bad item is rejected alone; an item that could
 * never fit a batch is stored as failed at once, with its reason.
 */
export async function intake(ctx: PipelineContext, payload: unknown, jobId: string | null = null): Promise<IntakeOutcome> {
  const p = checkIntakePayload(payload);
  if (!p.ok) {
    const reason = `invalid payload: ${p.reason}`;
    await recordRejection(ctx, reason, p.task, jobId);
    throw new IntakeRejectedError(reason, p.task ?? undefined);
  }
  if (!ctx.registry.has(p.task)) {
    const reason = `unknown task "${safeText(p.task, 100)}" (known: ${ctx.registry.names().join(', ')})`;
    await recordRejection(ctx, reason, p.task, jobId);
    throw new IntakeRejectedError(reason, p.task);
  }
  const task = ctx.registry.get(p.task);
  const limits = resolveLimits(task);
  const tokenCap = Math.min(limits.maxTokensPerBatch ?? Infinity, await ctx.limits.effective(task.model));
  const items = p.items;

  const rows: NewItem[] = [];
  const rejected: IntakeOutcome['rejected'] = [...p.rejected];
  const seen = new Set<string>();
  for (const [i, item] of items.entries()) {
    if (i > 0 && i % YIELD_EVERY_ITEMS === 0) await setImmediate();
    if (seen.has(item.externalId)) continue;
    seen.add(item.externalId);
    const input = task.input.safeParse(item.input);
    if (!input.success) {
      rejected.push({ externalId: item.externalId, reason: `invalid input: ${describeIssues(input.error.issues)}` });
      continue;
    }
    let size: { tokens: number; bytes: number };
    try {
      size = estimateItem(ctx, task, input.data, limits.maxOutputTokens);
    } catch (err) {
      rejected.push({ externalId: item.externalId, reason: `cannot build a request: ${(err as Error).message}` });
      continue;
    }
    const tooBig =
      size.tokens > tokenCap
        ? `needs ~${size.tokens} input tokens, more than the ${tokenCap} a batch of ${task.model} may hold`
        : size.bytes > limits.maxBytesPerBatch
          ? `its request is ${size.bytes} bytes, more than a batch file may hold`
          : null;
    rows.push({
      id: uuidv7(),
      task: task.name,
      external_id: item.externalId,
      input: input.data,
      status: tooBig ? 'failed' : 'queued',
      estimated_tokens: size.tokens,
      estimated_bytes: size.bytes,
      error_code: tooBig ? 'too_large' : null,
      error_message: tooBig ? `item can never fit a batch: ${tooBig}` : null,
    });
  }

  for (const r of rejected) await recordRejection(ctx, `${r.externalId}: ${r.reason}`, task.name, jobId);

  const inserted = await itemStore.insertMany(ctx.db, rows, ctx.now());
  if (inserted.length > 0) await triggerBuild(ctx, task.name);
  const stored = new Set(inserted);
  estimatedTokens.inc({ task: task.name, model: task.model }, rows.reduce((n, r) => n + (stored.has(r.id) ? r.estimated_tokens : 0), 0));
  return { accepted: inserted.length, duplicates: rows.length - inserted.length, rejected };
}
