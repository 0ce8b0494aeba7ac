import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const ROOT = join(import.meta.dirname, '..', '..');

/** Makes sure dist/ exists (CI builds before the tests; a local run without a build builds here). */
export async function ensureBuilt(): Promise<void> {
  if (existsSync(join(ROOT, 'dist', 'src', 'client', 'index.js'))) return;
  await promisify(execFile)(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, timeout: 300_000 });
}
