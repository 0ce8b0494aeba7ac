import { loadConfig } from '../config.ts';
import { ConfigError, ConnectionError, MigrationError } from '../errors.ts';
import { scrubSecrets } from '../logging/redaction.ts';
import { classifyConnectionError } from './connection-errors.ts';

/**
 * A message as one line, secrets scrubbed: an indented list after a colon (ConfigError's
 * `invalid configuration:` lines) joined with `; `, other line breaks (driver messages) with a space.
 */
export function singleLine(message: string): string {
  const listed = message.trim().replace(/:\n\s+/, ': ').replace(/\n[ \t]+/g, '; ');
  return scrubSecrets(listed.split('\n').map((l) => l.trim()).filter(Boolean).join(' '));
}

/**
 * What a process entry prints when it cannot start: a ConfigError (exit 2), or a connection or
 * migration problem (exit 1), as `name: message` without a stack. Undefined for anything else (a bug, whose
 * stack is worth seeing).
 */
export function startupFailure(err: unknown, env: NodeJS.ProcessEnv = process.env): { message: string; exitCode: number } | undefined {
  if (err instanceof ConfigError) return { message: err.message, exitCode: 2 };
  if (err instanceof ConnectionError || err instanceof MigrationError) return { message: err.message, exitCode: 1 };
  let urls: { databaseUrl: string; redisUrl: string } | undefined;
  try {
    urls = loadConfig(env);
  } catch {
    urls = undefined;
  }
  const known = urls ? classifyConnectionError(err, urls) : undefined;
  return known ? { message: known.message, exitCode: 1 } : undefined;
}

/**
 * Runs a process entry (workers/*.ts): when `start` rejects with a configuration or connection
 * problem, prints one line on stderr and exits non-zero; anything else is rethrown.
 */
export async function runEntry(start: () => Promise<unknown>, name = 'batchfleet'): Promise<void> {
  try {
    await start();
  } catch (err) {
    const failure = startupFailure(err);
    if (!failure) throw err;
    process.stderr.write(`${name}: ${singleLine(failure.message)}\n`);
    process.exit(failure.exitCode);
  }
}
