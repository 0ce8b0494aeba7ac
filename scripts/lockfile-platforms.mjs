#!/usr/bin/env node
/*
 * Keeps package-lock.json complete for msgpackr-extract's optional platform packages.
 *
 * The registry this project installs from lacks some of them (darwin, win32, linux-arm). A plain
 * `npm install` then drops their lock entries or their `resolved` URLs, and a lock without every
 * optional platform entry breaks `npm ci` on another platform (and on npm versions that check it).
 * `--check` (CI, before `npm ci`) fails naming what is missing; `--fix` restores the entries from
 * msgpackr-extract's own optionalDependencies. See docs/operations.md, "The lockfile".
 */
import { readFileSync, writeFileSync } from 'node:fs';

const LOCK = new URL('../package-lock.json', import.meta.url);
const mode = process.argv[2];
if (mode !== '--check' && mode !== '--fix') {
  console.error('usage: node scripts/lockfile-platforms.mjs --check | --fix');
  process.exit(2);
}
const text = readFileSync(LOCK, 'utf8');
const lock = JSON.parse(text);
const parent = lock.packages?.['node_modules/msgpackr-extract'];
if (!parent) {
  console.log('lockfile: msgpackr-extract is not in the lock; nothing to check');
  process.exit(0);
}
const CPU = { arm64: 'arm64', x64: 'x64', arm: 'arm' };
const problems = [];
for (const [name, version] of Object.entries(parent.optionalDependencies ?? {})) {
  const key = `node_modules/${name}`;
  const [, os, cpu] = /-(darwin|linux|win32)-(arm64|x64|arm)$/.exec(name) ?? [];
  if (!os || !CPU[cpu]) continue;
  const expected = {
    version,
    resolved: `https://registry.npmjs.org/${name}/-/${name.split('/')[1]}-${version}.tgz`,
    cpu: [CPU[cpu]],
    license: 'MIT',
    optional: true,
    os: [os],
  };
  const entry = lock.packages[key];
  if (!entry) problems.push(`${key}: missing`);
  else if (entry.version !== version) problems.push(`${key}: version ${entry.version}, msgpackr-extract wants ${version}`);
  else if (!entry.resolved && !entry.integrity) problems.push(`${key}: no resolved URL`);
  else continue;
  if (mode === '--fix') lock.packages[key] = { ...expected, ...(entry?.version === version && entry.integrity ? { integrity: entry.integrity } : {}) };
}
if (problems.length === 0) {
  console.log('lockfile: every msgpackr-extract platform entry is present');
  process.exit(0);
}
if (mode === '--check') {
  console.error(`lockfile: msgpackr-extract platform entries are incomplete (a plain \`npm install\` drops them):\n  ${problems.join('\n  ')}\nrun \`npm run lockfile:fix\` and commit package-lock.json`);
  process.exit(1);
}
// Keep npm's key order: sort the packages map the way npm writes it (by key).
lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b, 'en'))));
writeFileSync(LOCK, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`lockfile: restored\n  ${problems.join('\n  ')}`);
