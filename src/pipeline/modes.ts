import type { Config } from '../config.ts';
import type { AnyTask } from '../tasks/contract.ts';

/** Whether `task` runs in sync mode: its own `mode`, or forced by SYNC_TASKS (the one-setting switch). */
export function isSyncTask(config: Pick<Config, 'sync'>, task: AnyTask): boolean {
  return task.mode === 'sync' || config.sync.tasks.includes(task.name);
}
