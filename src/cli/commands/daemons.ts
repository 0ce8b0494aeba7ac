import type { Command } from 'commander';
import { ROLES, type Role } from '../../queues/names.ts';
import { CliError, type CliIO } from '../io.ts';
import { collect } from '../parse.ts';

/** Resolves never: the process is owned by the long-running command from here on. */
const forever = () => new Promise<never>(() => undefined);

export function register(program: Command, io: CliIO): void {
  program
    .command('worker')
    .description(`run worker roles until SIGTERM (${ROLES.join(', ')}; default all)`)
    .option('--role <role...>', 'roles to run (repeat or comma-separate)', collect)
    .action(async (opts: { role?: string[] }) => {
      const roles = opts.role?.length ? opts.role : [...ROLES];
      const unknown = roles.filter((r) => !(ROLES as readonly string[]).includes(r));
      if (unknown.length) throw new CliError(`unknown role ${unknown.join(', ')} (roles: ${ROLES.join(', ')})`, 2);
      const { runWorkers } = await import('../../runtime/main.ts');
      await runWorkers(roles as Role[], io.registry);
      await forever();
    });

  program
    .command('simulator')
    .description('run the OpenAI Batch API simulator (see `batchfleet simulator --help`)')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]')
    .action(async (args: string[]) => {
      await runSimulator(args);
    });
}

/**
 * Delegates to the simulator package's own argument parser (a dev dependency: absent from
 * production installs). Its refusals become one-line usage errors (exit 2), a taken port a
 * one-line failure.
 */
export async function runSimulator(argv: string[]): Promise<void> {
  let sim: typeof import('openai-batch-simulator');
  try {
    sim = await import('openai-batch-simulator');
  } catch (err) {
    throw new CliError(`batchfleet simulator needs the openai-batch-simulator package: npm install openai-batch-simulator (in a checkout, npm ci); ${(err as Error).message.split('\n')[0]}`);
  }
  try {
    await sim.runSimulatorCli(argv);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const first = e.message.split('\n')[0]!.replace(/\.$/, '');
    if (e.code === 'EADDRINUSE') throw new CliError(`${first}; stop what listens there or pass another --port`);
    const usage = e.code?.startsWith('ERR_PARSE_ARGS') || e instanceof sim.ScenarioError || /\nusage: /.test(e.message);
    if (usage) throw new CliError(`${first.replace(/\. To specify a positional argument.*$/, '')}; see \`batchfleet simulator --help\``, 2);
    throw err;
  }
}
