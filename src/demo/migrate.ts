import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { MigrationError } from '../errors.ts';
import { redactUrl } from '../runtime/connection-errors.ts';

/** The checkout root: the directory above this module holding prisma.config.ts. */
function projectRoot(): string | undefined {
  for (let dir = import.meta.dirname, i = 0; i < 6; dir = dirname(dir), i++) {
    if (existsSync(join(dir, 'prisma.config.ts'))) return dir;
  }
  return undefined;
}

/**
 * Applies the project's migrations to `databaseUrl` (its `?schema=` included) with
 * `prisma migrate deploy`, the same command a deployment runs; a no-op when it is up to date.
 */
export async function migrate(databaseUrl: string): Promise<void> {
  const root = projectRoot();
  if (!root) throw new MigrationError(`cannot find prisma.config.ts to migrate ${redactUrl(databaseUrl)}; run \`npx prisma migrate deploy\` from a checkout`);
  const prisma = createRequire(import.meta.url).resolve('prisma/build/index.js');
  try {
    await promisify(execFile)(process.execPath, [prisma, 'migrate', 'deploy'], {
      cwd: root,
      env: { ...process.env, DATABASE_URL: databaseUrl },
      timeout: 180_000,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (err) {
    const e = err as Error & { stderr?: string; stdout?: string };
    const said = `${e.stderr ?? ''}\n${e.stdout ?? ''}`.split('\n').map((l) => l.trim()).filter((l) => /error|fail/i.test(l));
    throw new MigrationError(`\`prisma migrate deploy\` failed for ${redactUrl(databaseUrl)}: ${said[0] ?? e.message.split('\n')[0]}`);
  }
}
