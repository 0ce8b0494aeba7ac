/**
 * The batchfleet CLI: `npx batchfleet <command>` (bin/batchfleet.mjs) or `npm run cli -- <command>`.
 * Every command is a thin layer over a query or action module and takes `--json` (one JSON
 * document on stdout); human output is a compact table. Settings come from the same environment
 * as the workers (DATABASE_URL, REDIS_URL, BATCHFLEET_PREFIX, …).
 */
import { pathToFileURL } from 'node:url';
import { Command, CommanderError } from 'commander';
import { ConfigError, ConnectionError, ProviderError, UnknownRecordError } from '../errors.ts';
import { scrubSecrets } from '../logging/redaction.ts';
import { classifyConnectionError } from '../runtime/connection-errors.ts';
import { singleLine } from '../runtime/entry.ts';
import { CliError, configOf, type CliIO } from './io.ts';
import { packageVersion } from './version.ts';
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

/** Commander's own refusals (unknown option, missing argument…) as one line with where to look. */
function oneLineError(command: string) {
  return (text: string, write: (s: string) => void) => {
    const message = text.trim().replace(/^error:\s*/, '').replace(/\s*\n\s*/g, ' ').replace(/\.$/, '');
    write(`batchfleet: ${message}; see \`${command} --help\`\n`);
  };
}

/** The commander program, writing through `io`. */
export function buildProgram(io: CliIO): Command {
  const program = new Command('batchfleet')
    .description('Operate a batchfleet: status, items and batches, retries, cancels, cost, budget, reconcile')
    .version(packageVersion(), '-v, --version', 'print the batchfleet version')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void io.stdout.write(s),
      writeErr: (s) => void io.stderr.write(s),
      outputError: oneLineError('batchfleet'),
    });
  for (const register of [status, lists, show, retry, cancel, cost, budget, failures, reconcile, savings, daemons]) register(program, io);
  for (const sub of program.commands) sub.configureOutput({ ...program.configureOutput(), outputError: oneLineError(`batchfleet ${sub.name()}`) });
  return program;
}

/** The configuration, when it is valid (for naming the server an error is about). */
function configIfValid(io: CliIO): ReturnType<typeof configOf> | undefined {
  try {
    return configOf(io);
  } catch {
    return undefined;
  }
}

/**
 * Runs the CLI on `argv` (without the node and script paths) and resolves with the exit code:
 * 0 success, 1 failure (not found, refused, a server unreachable), 2 usage error.
 * Every failure is one line on stderr, `batchfleet: <what happened>; <what to do>`.
 * `worker` and `simulator` own the process and resolve only when they stop.
 */
export async function main(argv: string[], io: Partial<CliIO> = {}): Promise<number> {
  const full: CliIO = { stdout: process.stdout, stderr: process.stderr, env: process.env, ...io };
  const fail = (message: string, code: number) => {
    full.stderr.write(`batchfleet: ${singleLine(message)}\n`);
    return code;
  };
  try {
    // The simulator parses its own options (and --help): hand it the raw arguments.
    if (argv[0] === 'simulator') {
      await runSimulator(argv.slice(1));
      return 0;
    }
    await buildProgram(full).parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    // Commander has printed its own message (or the help, or the version) already.
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof CliError) return fail(err.message, err.exitCode);
    if (err instanceof ConfigError) return fail(err.message, 2);
    if (err instanceof UnknownRecordError) return fail(`${err.message}; list them with \`batchfleet ${err.kind === 'batch' ? 'batches' : 'items'}\``, 1);
    const config = configIfValid(full);
    const connection = err instanceof ConnectionError ? err : config ? classifyConnectionError(err, config) : undefined;
    if (connection) return fail(connection.message, 1);
    if (err instanceof ProviderError && /: connection failed$/.test(err.message) && config) {
      const variable = config.provider.simulated ? 'SIMULATOR_URL' : 'OPENAI_BASE_URL';
      return fail(`${err.message}; is the provider at ${config.provider.baseURL ?? 'https://api.openai.com/v1'} reachable? (${variable})`, 1);
    }
    const e = err as Error;
    fail(`${e?.message ?? String(err)}${full.env.BATCHFLEET_DEBUG ? '' : ' (BATCHFLEET_DEBUG=1 prints the stack)'}`, 1);
    if (full.env.BATCHFLEET_DEBUG) full.stderr.write(`${scrubSecrets(e?.stack ?? '')}\n`);
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
