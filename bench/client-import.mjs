#!/usr/bin/env node
// How long `import('batchfleet/client')` takes with plain node from the built package (dist/),
// in fresh processes: prints each run and the median. Run `npm run build` first.
import { execFileSync } from 'node:child_process';

const runs = Number(process.argv[2] ?? 7);
const script = "const t = performance.now(); await import('batchfleet/client'); process.stdout.write(String(performance.now() - t));";
const times = [];
for (let i = 0; i < runs; i++) {
  times.push(Number(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: new URL('..', import.meta.url) })));
}
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)];
console.log(JSON.stringify({ specifier: 'batchfleet/client', runs, ms: times.map((t) => Math.round(t)), medianMs: Math.round(median) }));
