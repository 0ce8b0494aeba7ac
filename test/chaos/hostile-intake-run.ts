/*
 * `npm run chaos:intake -- [--jobs 10000]`: sends malformed intake payloads from every template in
 * test/chaos/hostile-intake.ts through a real intake worker, prints the figures and exits 1 if an
 * invariant broke (a job retried or stuck, a good item lost, a rejection without its row, /metrics >= 100 KB).
 */
import { parseArgs } from 'node:util';
import { startHarness } from '../support/fleet.ts';
import { runHostileIntake } from './hostile-intake.ts';

const { values } = parseArgs({ args: process.argv.slice(2), options: { jobs: { type: 'string', default: '10000' } }, strict: true });
const jobs = Number(values.jobs);
if (!Number.isInteger(jobs) || jobs < 1) {
  console.error(`--jobs must be a positive integer, got "${values.jobs}"`);
  process.exit(2);
}
const h = await startHarness({ scenario: 'happy', roles: ['intake'] });
let code = 1;
try {
  const f = await runHostileIntake(h, jobs, `chaos-${Date.now()}`);
  console.log(JSON.stringify({ ...f, violations: f.violations.slice(0, 20), violationCount: f.violations.length }, null, 2));
  console.log(f.violations.length === 0 ? 'INVARIANTS HOLD' : 'INVARIANTS BROKEN');
  code = f.violations.length === 0 ? 0 : 1;
} finally {
  await h.close();
}
process.exit(code);
