#!/usr/bin/env node
// The simulator's command line. A published copy runs the compiled JavaScript in dist/; inside a
// source checkout without a build, it runs the TypeScript sources through tsx (a dev dependency).
import { existsSync } from 'node:fs';

const dist = new URL('../dist/cli.js', import.meta.url);
let cli;
if (existsSync(dist)) {
  cli = await import(dist.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import(new URL('../src/cli.ts', import.meta.url).href);
}
await cli.main(process.argv.slice(2));
