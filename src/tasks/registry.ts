import { TaskDefinitionError, UnknownTaskError } from '../errors.ts';
import { resolveDelivery, type AnyTask } from './contract.ts';

/** Input type of a task by name, for typed producers: `TaskInput<typeof registry, 'classify-ticket'>`. */
export type TaskInput<R, N extends string> = R extends TaskRegistry<infer M> ? (N extends keyof M ? M[N] extends { input: { _output: infer I } } ? I : never : never) : never;

/** The tasks a fleet knows, by name. */
export class TaskRegistry<M extends Record<string, AnyTask> = Record<string, AnyTask>> {
  private readonly byName = new Map<string, AnyTask>();

  constructor(tasks: readonly AnyTask[]) {
    for (const task of tasks) {
      if (!task.name || !/^[a-z0-9][a-z0-9-]*$/.test(task.name)) {
        throw new TaskDefinitionError(`task name "${task.name}" must be lower-case letters, digits and dashes`);
      }
      if (this.byName.has(task.name)) throw new TaskDefinitionError(`task "${task.name}" is registered twice`);
      for (const member of ['buildRequest', 'parseOutput'] as const) {
        if (typeof task[member] !== 'function') throw new TaskDefinitionError(`task "${task.name}" has no ${member}()`);
      }
      if (!task.model) throw new TaskDefinitionError(`task "${task.name}" has no model`);
      resolveDelivery(task);
      this.byName.set(task.name, task);
    }
  }

  /** The task called `name`; throws UnknownTaskError. */
  get<N extends keyof M & string>(name: N): M[N];
  get(name: string): AnyTask;
  get(name: string): AnyTask {
    const task = this.byName.get(name);
    if (!task) throw new UnknownTaskError(name);
    return task;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  all(): AnyTask[] {
    return [...this.byName.values()];
  }
}

/** Builds a registry whose `get` is typed by the tasks' names. */
export function createRegistry<const L extends readonly AnyTask[]>(
  tasks: L,
): TaskRegistry<{ [T in L[number] as T['name']]: T }> {
  return new TaskRegistry(tasks);
}
