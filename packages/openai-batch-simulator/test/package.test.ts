/** The package stands alone: it imports nothing of the fleet, only its declared dependencies. */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : /\.(ts|mjs|js)$/.test(name) ? [p] : [];
  });
}

/** Every module specifier of a source file (static imports, re-exports, dynamic imports). */
function specifiers(text: string): string[] {
  const out: string[] = [];
  for (const re of [/\bfrom\s+['"]([^'"]+)['"]/g, /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g, /^\s*import\s+['"]([^'"]+)['"]/gm]) {
    for (const m of text.matchAll(re)) out.push(m[1]!);
  }
  return out;
}

describe('package boundaries', () => {
  it('is named openai-batch-simulator and does not depend on the fleet', () => {
    expect(pkg.name).toBe('openai-batch-simulator');
    expect(Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }).filter((d) => /batchfleet/.test(d))).toEqual([]);
  });

  it('src/ and bin/ import only package files, node builtins and declared dependencies (never ../../src or batchfleet)', () => {
    const allowedBare = new Set([...Object.keys(pkg.dependencies), 'tsx']);
    const builtins = new Set(builtinModules);
    const problems: string[] = [];
    const sources = [...files(join(ROOT, 'src')), ...files(join(ROOT, 'bin'))];
    expect(sources.length).toBeGreaterThan(20);
    for (const file of sources) {
      const text = readFileSync(file, 'utf8');
      if (/\.\.\/\.\.\/src\b|['"]batchfleet['"/]/.test(text)) problems.push(`${relative(ROOT, file)}: mentions the fleet in an import`);
      for (const spec of specifiers(text)) {
        if (spec.startsWith('.')) {
          const target = resolve(dirname(file), spec);
          if (relative(ROOT, target).startsWith('..')) problems.push(`${relative(ROOT, file)}: ${spec} leaves the package`);
        } else if (spec.startsWith('node:') || builtins.has(spec)) {
          continue;
        } else {
          const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
          if (!allowedBare.has(name)) problems.push(`${relative(ROOT, file)}: imports undeclared package ${spec}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('the bin runs (TypeScript sources through tsx without a build, dist/ once built)', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [join(ROOT, 'bin/openai-batch-simulator.mjs'), '--help'], { cwd: ROOT });
    expect(stdout).toContain('usage: openai-batch-simulator');
    expect(stdout).toContain('instant');
  });
});
