import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT } from './built.ts';

beforeAll(ensureBuilt, 300_000);

describe('the published .d.ts files', () => {
  it('type a consumer project under tsc --strict, and a wrong input type is a compile error', async () => {
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const run = await promisify(execFile)(process.execPath, [tsc, '-p', join(ROOT, 'test', 'package', 'types', 'tsconfig.json')], { cwd: ROOT, timeout: 240_000 })
      .then(() => ({ code: 0, out: '' }))
      .catch((err: { code?: number; stdout?: string }) => ({ code: err.code ?? 1, out: err.stdout ?? '' }));
    // Exit 0 means: no error in the consumer's code, and every `@ts-expect-error` there did catch an error.
    expect(run.out).toBe('');
    expect(run.code).toBe(0);
  }, 240_000);
});
