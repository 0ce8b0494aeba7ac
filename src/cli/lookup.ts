import type { PipelineContext } from '../pipeline/context.ts';
import { taskOnRecord } from '../store/read-models/index.ts';
import { usage } from './parse.ts';

/**
 * Refuses (exit 2) a task name that is neither in the fleet's registry nor on record in the
 * database: most likely a typo, which would otherwise match nothing and look like success.
 */
export async function requireKnownTask(ctx: PipelineContext, task: string, flag = '--task'): Promise<void> {
  if (ctx.registry.has(task) || (await taskOnRecord(ctx.db, task))) return;
  const known = ctx.registry.names();
  throw usage(`${flag} "${task}" is not a task of this fleet; known tasks: ${known.length ? known.join(', ') : '(none registered)'}`);
}
