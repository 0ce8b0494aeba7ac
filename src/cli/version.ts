import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** This package's version, from the package.json above this module (src/cli or dist/src/cli alike). */
export function packageVersion(): string {
  for (let dir = import.meta.dirname, i = 0; i < 6; dir = dirname(dir), i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'batchfleet' && pkg.version) return pkg.version;
    } catch {
      // no package.json here: keep walking up
    }
  }
  return 'unknown';
}
