/**
 * The batchfleet CLI: `npx batchfleet <command>` (bin/batchfleet.mjs) or `npm run cli -- <command>`.
 * Every command is a thin layer over a query or action module and takes `--json` (one JSON
 * document on stdout); human output is a compact table. Settings come from the same environment
 * as the workers (DATABASE_URL, REDIS_URL, BATCHFLEET_PREFIX, …).
 */
import { pathToFileURL } from 'node:url';
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../errors.ts';
import { CliError, type CliIO } from './io.ts';
import { register as budget } from './commands/budget.ts';
import { register as cancel } from './commands/cancel.ts';
import { register as cost } from './commands/cost.ts';
import { register as daemons, runSimulator } from './commands/daemons.ts';
import { register as failures } from './commands/failures.ts';
import { register as lists } from './commands/items.ts';
import { register as reconcile } from './commands/reconcile.ts';
import { register as retry } from './commands/retry.ts';
import { register as savings } from './commands/savings-estimate.ts';
import { register as show } from './commands/show.ts';
import { register as status } from './commands/status.ts';

export { CliError, type CliIO } from './io.ts';

/** The commander program, writing through `io`. */
export function buildProgram(io: CliIO): Command {
  const program = new Command('batchfleet')
    .description('Operate a batchfleet: status, items and batches, retries, cancels, cost, budget, reconcile')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void io.stdout.write(s),
      writeErr: (s) => void io.stderr.write(s),
    });
  for (const register of [status, lists, show, retry, cancel, cost, budget, failures, reconcile, savings, daemons]) register(program, io);
  return program;
}

/**
 * Runs the CLI on `argv` (without the node and script paths) and resolves with the exit code.
 * `worker` and `simulator` own the process and resolve only when they stop.
 */
export async function main(argv: string[], io: Partial<CliIO> = {}): Promise<number> {
  const full: CliIO = { stdout: process.stdout, stderr: process.stderr, env: process.env, ...io };
  try {
    // The simulator parses its own options (and --help): hand it the raw arguments.
    if (argv[0] === 'simulator') {
      await runSimulator(argv.slice(1));
      return 0;
    }
    await buildProgram(full).parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof CliError) {
      full.stderr.write(`batchfleet: ${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof ConfigError) {
      full.stderr.write(`batchfleet: ${err.message}\n`);
      return 2;
    }
    const e = err as Error;
    full.stderr.write(`batchfleet: ${e?.message ?? String(err)}\n`);
    if (full.env.BATCHFLEET_DEBUG) full.stderr.write(`${e?.stack ?? ''}\n`);
    return 1;
  }
}

/** Exits with `code` once output is flushed, even if a stray handle would keep the process alive. */
export function exitWhenDone(code: number): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), 2_000).unref();
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) exitWhenDone(await main(process.argv.slice(2)));
