/*
 * The long chaos run: `npm run chaos -- [--items 20000] [--kills 40] [--seed 1] [--per-role 2]
 * [--no-pg-restart] [--no-redis-loss]`. Real worker processes, seeded SIGKILLs with restarts, one
 * loss of the fleet's Redis keys and (when run as root on a Debian-packaged PostgreSQL) one
 * PostgreSQL restart; then prints what it did and the invariants, and exits 1 if one is broken.
 * Note: the PostgreSQL restart drops every connection on this server, other tests' included.
 */
import { parseArgs } from 'node:util';
import { fmt, runChaos, type ChaosFigures } from './chaos.ts';

const USAGE = 'usage: npm run chaos -- [--items N] [--kills N] [--seed N] [--per-role N] [--no-pg-restart] [--no-redis-loss]';

function int(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got "${value}"\n${USAGE}`);
  return n;
}

function summary(f: ChaosFigures): string {
  const inv = f.invariants;
  const byRole = new Map<string, number>();
  for (const k of f.kills) byRole.set(k.role, (byRole.get(k.role) ?? 0) + 1);
  const lines = [
    '',
    '== chaos run ==',
    `items ${f.items}, seed ${f.seed}, ${f.perRole} processes per role, ${f.processesStarted} processes started in all`,
    `kills: ${f.kills.length} (${[...byRole].map(([r, n]) => `${r} ${n}`).join(', ')}); ${f.kills.filter((k) => k.activeInQueue > 0).length} while the role's queue had active jobs`,
    `redis loss: ${f.redisLoss ? `at ${fmt(f.redisLoss.atMs)}, ${f.redisLoss.keysDeleted} keys deleted, ${f.redisLoss.resentItems} items re-sent by the producer` : 'none'}`,
    `postgresql restart: ${f.pgRestart === null ? 'not requested' : 'skipped' in f.pgRestart ? `skipped (${f.pgRestart.skipped})` : `at ${fmt(f.pgRestart.atMs)}, took ${f.pgRestart.ms} ms`}`,
    `exits nobody asked for: ${f.crashes.length}${f.crashes.length ? ` (${f.crashes.map((c) => `${c.name} code ${c.code}${c.booting && c.duringPgRestart ? ', boot failed during the PostgreSQL restart' : ''}`).join('; ')})` : ''}`,
    `timing: workers ready in ${fmt(f.readyMs)}, work ${fmt(f.workMs)}, drained ${fmt(f.drainAfterLastKillMs)} after the last kill, ${fmt(f.totalMs)} in all`,
    `items: ${inv.succeeded} succeeded, ${inv.failed} failed, ${inv.pending} pending; ${inv.attempts} attempts ${JSON.stringify(inv.attemptOutcomes)}`,
    `batches: ${inv.batches} built, ${inv.providerBatches} created at the provider, ${inv.openBatches} not processed`,
    `duplicates: submissions ${inv.duplicateSubmissions}, input files ${inv.duplicateInputFiles.length}, unknown provider batches ${inv.unknownProviderBatches}, ` +
      `succeeded more than once ${inv.succeededMoreThanOnce}, succeeded items without exactly one success ${inv.succeededAttemptsNotOne}, ` +
      `onResult calls not exactly one ${inv.resultHooksNotOne}, cost mismatches ${inv.costMismatches}`,
    `cost: items $${inv.costUsd.items}, attempts $${inv.costUsd.attempts}, batches $${inv.costUsd.batches}`,
    f.violations.length === 0 ? 'INVARIANTS HOLD' : `INVARIANTS BROKEN:\n  ${f.violations.join('\n  ')}`,
  ];
  return lines.join('\n');
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      items: { type: 'string' },
      kills: { type: 'string' },
      seed: { type: 'string' },
      'per-role': { type: 'string' },
      'no-pg-restart': { type: 'boolean', default: false },
      'no-redis-loss': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const items = int('items', values.items, 20_000);
  const kills = int('kills', values.kills, 40);
  const seed = int('seed', values.seed, 1);
  const perRole = Math.max(1, int('per-role', values['per-role'], 2));
  console.log(`chaos: ${items} items, ${kills} kills, seed ${seed}, ${perRole} processes per role`);
  // First Ctrl-C: stop the chaos, check what was done and clean up; second: exit at once (children are killed on exit).
  const abort = new AbortController();
  const interrupt = () => {
    if (abort.signal.aborted) process.exit(130);
    console.log('interrupted: stopping, checking and cleaning up (Ctrl-C again to exit at once)');
    abort.abort();
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  const figures = await runChaos({
    items,
    kills,
    seed,
    perRole,
    killGapMs: [1_000, 4_000],
    waves: 10,
    redisLoss: !values['no-redis-loss'],
    pgRestart: !values['no-pg-restart'],
    drainTimeoutMs: 600_000,
    signal: abort.signal,
    log: (line) => console.log(line),
  });
  console.log(summary(figures));
  if (figures.violations.length > 0) {
    console.log('\n== worker output ==');
    console.log(figures.processReport);
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(2);
  },
);
