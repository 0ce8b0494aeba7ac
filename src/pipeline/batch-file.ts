/**
 * The batch file format: one JSONL line per claimed item, `custom_id` = our item id. A file is a
 * pure function of its claimed items, so any host can write it again from PostgreSQL alone.
 */
import * as items from '../store/items.ts';
import { resolveLimits, type AnyTask } from '../tasks/contract.ts';
import type { PipelineContext } from './context.ts';

/** Metadata keys that carry our batch id to the provider, so a lost response can be found again. */
export const META_BATCH_ID = 'batchfleet_batch_id';
export const META_SUBMISSION = 'batchfleet_submission';

const PAGE = 2_000;
const FILE_NAME = /^batchfleet-([0-9a-f-]{36})\.jsonl$/;

/** The provider-side file name of a batch's input file. */
export function batchFileName(batchId: string): string {
  return `batchfleet-${batchId}.jsonl`;
}

/** Our batch id from a provider-side file name, or null when the file is not one of ours. */
export function batchIdOfFile(filename: string): string | null {
  return FILE_NAME.exec(filename)?.[1] ?? null;
}

/** One request line; `maxOutputTokens` is the item's own, or else its task's. */
export function requestLine(task: AnyTask, itemId: string, input: unknown, maxOutputTokens: number | undefined): string {
  const body = task.buildRequest(input, { maxOutputTokens });
  return JSON.stringify({ custom_id: itemId, method: 'POST', url: task.endpoint, body });
}

/** Lines of a batch file, read page by page from the items claimed for it (never all at once). */
export async function* batchLines(ctx: Pick<PipelineContext, 'db'>, task: AnyTask, batchId: string): AsyncGenerator<string> {
  const taskMax = resolveLimits(task).maxOutputTokens; // once per file: resolving builds a new object
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const page = await items.batchPage(ctx.db, batchId, after, PAGE);
    for (const row of page) yield requestLine(task, row.id, row.input, row.maxOutputTokens ?? taskMax);
    if (page.length < PAGE) return;
    after = page[page.length - 1]!.id;
  }
}
