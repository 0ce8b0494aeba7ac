#!/usr/bin/env node
// `npm run build`: the published library in dist/ (ESM JavaScript + .d.ts), from a clean slate.
// The Prisma client under src/generated/prisma is generated (git-ignored) and compiled with the rest.
// The simulator workspace package is built first: the fleet's declarations refer to its own.
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const run = (bin, args) => execFileSync(process.execPath, [bin, ...args], { cwd: root, stdio: 'inherit' });

if (!existsSync(join(root, 'src', 'generated', 'prisma', 'client.ts'))) run(require.resolve('prisma/build/index.js'), ['generate']);
rmSync(join(root, 'dist'), { recursive: true, force: true });
run(require.resolve('typescript/bin/tsc'), ['-p', join('packages', 'openai-batch-simulator', 'tsconfig.build.json')]);
run(require.resolve('typescript/bin/tsc'), ['-p', 'tsconfig.build.json']);
