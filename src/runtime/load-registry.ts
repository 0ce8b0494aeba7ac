import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../errors.ts';
import { exampleRegistry } from '../tasks/index.ts';
import { TaskRegistry } from '../tasks/registry.ts';
import type { AnyTask } from '../tasks/contract.ts';

/** The registry from BATCHFLEET_TASKS (default export: a TaskRegistry or an array of tasks), else the examples. */
export async function loadRegistry(modulePath: string | undefined): Promise<TaskRegistry> {
  if (!modulePath) return exampleRegistry();
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(resolve(modulePath)).href)) as { default?: unknown };
  } catch (err) {
    throw new ConfigError(`BATCHFLEET_TASKS: cannot load ${modulePath}: ${(err as Error).message.split('\n')[0]}`);
  }
  const value = mod.default;
  if (value instanceof TaskRegistry) return value;
  if (Array.isArray(value)) return new TaskRegistry(value as AnyTask[]);
  throw new ConfigError(`BATCHFLEET_TASKS module ${modulePath} must default-export a TaskRegistry or an array of tasks`);
}
