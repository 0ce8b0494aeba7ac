#!/usr/bin/env node
// `npx batchfleet …`. An installed package (or the Docker image) has only the built JavaScript:
// it runs dist/src/cli/main.js with plain node. A source checkout with dev dependencies runs
// src/cli/main.ts through tsx, so development never needs a build (a stale dist/ is never used).
// BATCHFLEET_RUN=dist or BATCHFLEET_RUN=source forces one or the other.
import { existsSync } from 'node:fs';

// Under `npx batchfleet …` (npm exec) this process runs under npm's shell. A SIGTERM sent to npm
// does not reach it: npm passes it to the shell, which dies without passing it on, and a
// simulator or worker would be left running (still listening) with no parent. So when the process
// that started us goes away, stop as if SIGTERM had been sent: workers shut down gracefully, the
// simulator exits.
if (process.env.npm_command === 'exec') {
  const parent = process.ppid;
  const watch = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(watch);
    process.kill(process.pid, 'SIGTERM');
  }, 200);
  watch.unref();
}

const source = new URL('../src/cli/main.ts', import.meta.url);
const built = new URL('../dist/src/cli/main.js', import.meta.url);

async function fromSource() {
  if (process.env.BATCHFLEET_RUN === 'dist' || !existsSync(source)) return false;
  try {
    const { register } = await import('tsx/esm/api');
    register();
    return true;
  } catch {
    return false; // tsx is a dev dependency: absent in production installs
  }
}

const entry = (await fromSource()) ? source : built;
if (!existsSync(entry)) {
  process.stderr.write('batchfleet: no built CLI in dist/; run `npm run build` (or install dev dependencies to run from source)\n');
  process.exit(1);
}
const { main, exitWhenDone } = await import(entry.href);
exitWhenDone(await main(process.argv.slice(2)));
