/**
 * `npm run bench`: the one place batchfleet's speed is measured. Measured, never asserted.
 *
 *   stages   each stage on its own (token counter, intake, build, submit, poll, process)
 *   e2e      the whole fleet (P processes of workers/all.ts) against the simulator with zero
 *            delays, interleaved with the naive reference and the floor (reference, fleet,
 *            floor; R times), so every fleet figure is also a ratio taken in the same minutes
 *   file     one 50,000-line, ~200 MB output file through the process role alone (peak RSS, lines/s)
 *
 * Options: --items N (20000) --procs P (2) --runs R (3) --file-lines L (50000) --chunk C (1000)
 *          --only stages,e2e,file  --kinds reference,fleet,floor (which end-to-end runs; ratios need all)  --scenario NAME|FILE (bench/scenarios/instant.json; the file bench uses zero-delay.json)
 *          --env KEY=VALUE (fleet setting, repeatable)  --profile (CPU profiles under var/bench/profiles)
 *          --no-webhooks (polling alone; by default the simulator posts batch events to an admin process of each fleet run)
 *          --source (fleet processes run the TypeScript through tsx; default: the built dist/ with plain node)
 *          --reference-dir DIR (../shared/baseline)  --json (JSON on stdout, table on stderr)
 *          --node PATH (every measured child, fleet, simulator, naive reference and floor alike, runs on this node binary;
 *          default: the bench's own; docs/performance.md says how to get Node 24, the production image's)
 *          --smoke (500 items, 1 run, 2,000-line file: a quick check that every part works)
 * Results: a table, and JSON in var/bench/bench-<time>.json (and var/bench/latest.json).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { fileBench, type FileBenchResult } from './big-file.ts';
import { fleetRun, referenceRun, type BenchEnv, type RunResult } from './e2e.ts';
import { clearProbeRoot, prepareFleetRuntime } from './fleet.ts';
import { REPO, useChildNode, VAR } from './lib/children.ts';
import { benchWebhook, dropDatabase, installReference, startFakeOpenAI, startRedis, startSimulatorProcess } from './lib/services.ts';
import { cpuLine, cpuSummary, ratioLines, ratios, rssLines, runTable, stageTable, timelineLines } from './report.ts';
import { pipelineStages, tokenStages, type StageResult } from './stages.ts';

const { values } = parseArgs({
  options: {
    items: { type: 'string' },
    procs: { type: 'string', default: '2' },
    runs: { type: 'string' },
    'file-lines': { type: 'string' },
    chunk: { type: 'string', default: '1000' },
    only: { type: 'string', default: 'stages,e2e,file' },
    kinds: { type: 'string', default: 'reference,fleet,floor' },
    scenario: { type: 'string', default: join(REPO, 'bench', 'scenarios', 'instant.json') },
    env: { type: 'string', multiple: true, default: [] },
    profile: { type: 'boolean', default: false },
    'no-webhooks': { type: 'boolean', default: false },
    source: { type: 'boolean', default: false },
    'reference-dir': { type: 'string', default: join(REPO, '..', 'shared', 'baseline') },
    node: { type: 'string' },
    json: { type: 'boolean', default: false },
    smoke: { type: 'boolean', default: false },
    'timeout-s': { type: 'string', default: '900' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});

function positiveInt(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) {
    console.error(`bench: --${name} must be a positive integer, got "${raw}"`);
    process.exit(2);
  }
  return n;
}

if (values.help) {
  console.log('usage: npm run bench -- [--items N] [--procs P] [--runs R] [--file-lines L] [--only stages,e2e,file] [--kinds reference,fleet,floor] [--scenario NAME|FILE] [--env KEY=VALUE] [--profile] [--no-webhooks] [--source] [--node PATH] [--json] [--smoke]');
  process.exit(0);
}
const smoke = values.smoke;
const items = positiveInt('items', values.items, smoke ? 500 : 20_000);
const procs = positiveInt('procs', values.procs, 2);
const runs = positiveInt('runs', values.runs, smoke ? 1 : 3);
const fileLines = positiveInt('file-lines', values['file-lines'], smoke ? 2_000 : 50_000);
const chunk = positiveInt('chunk', values.chunk, 1000);
const timeoutMs = positiveInt('timeout-s', values['timeout-s'], 900) * 1000;
const only = new Set(values.only.split(',').map((s) => s.trim()));
for (const o of only) if (!['stages', 'e2e', 'file'].includes(o)) throw new Error(`bench: --only takes stages, e2e, file; got "${o}"`);
const KINDS = ['reference', 'fleet', 'floor'] as const;
const kinds = KINDS.filter((k) => values.kinds.split(',').map((s) => s.trim()).includes(k));
if (kinds.length === 0) throw new Error(`bench: --kinds takes reference, fleet, floor; got "${values.kinds}"`);
const fleetEnvExtra: Record<string, string> = {};
for (const kv of values.env) {
  const i = kv.indexOf('=');
  if (i <= 0) throw new Error(`bench: --env takes KEY=VALUE, got "${kv}"`);
  fleetEnvExtra[kv.slice(0, i)] = kv.slice(i + 1);
}
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const profileDir = values.profile ? join(VAR, 'profiles', stamp) : undefined;
if (profileDir) mkdirSync(profileDir, { recursive: true });

const out = values.json ? process.stderr : process.stdout;
const say = (s: string): void => void out.write(`${s}\n`);

const baseDbUrl = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/batchfleet';
const baseDbName = decodeURIComponent(new URL(baseDbUrl).pathname.slice(1)) || 'batchfleet';
const dbPrefix = `${baseDbName.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_bench`;

async function machine(): Promise<Record<string, unknown>> {
  const c = new pg.Client({ connectionString: baseDbUrl.replace(/\/[^/?]*(\?.*)?$/, '/postgres') });
  await c.connect();
  try {
    const { rows } = await c.query<{ name: string; setting: string }>(`select name, setting from pg_settings where name in ('server_version', 'fsync', 'synchronous_commit', 'shared_preload_libraries')`);
    const pgSettings = Object.fromEntries(rows.map((r) => [r.name, r.setting]));
    return { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version, measuredNode, loadavg: os.loadavg().map((x) => Number(x.toFixed(2))), postgres: pgSettings };
  } finally {
    await c.end();
  }
}

const measuredNode = values.node ? useChildNode(resolve(values.node)) : process.version;
clearProbeRoot();
prepareFleetRuntime(values.source ? 'source' : 'dist');
const info = await machine();
say(`batchfleet bench: items ${items}, procs ${procs}, runs ${runs}, scenario ${values.scenario}; ${info.cpus} cpu, node ${info.node}${measuredNode === info.node ? '' : ` (measured processes: node ${measuredNode})`}, load ${(info.loadavg as number[]).join(' ')}`);

const redis = await startRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const webhook = values['no-webhooks'] ? undefined : await benchWebhook();
const simulatorProfile = (name: string) => (profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-name', `${name}.cpuprofile`] : []);
const sim = await startSimulatorProcess(values.scenario, 'simulator', simulatorProfile('simulator'), webhook);
const referenceDir = only.has('e2e') ? await installReference(values['reference-dir']) : '';
const fake = only.has('e2e') ? await startFakeOpenAI(referenceDir) : undefined;
const stages: StageResult[] = [];
const e2e: RunResult[] = [];
let file: FileBenchResult | undefined;
let failed = false;
try {
  // The reference's own items (its items.mjs), so the fleet does exactly the same work.
  const itemsModule = (await import(pathToFileURL(join(referenceDir || (await installReference(values['reference-dir'])), 'items.mjs')).href)) as {
    makeItems(n: number): Array<{ requestId: string; messages: Array<{ role: string; content: string }> }>;
  };
  const benchItems = itemsModule.makeItems(items);

  if (only.has('stages')) {
    say('\n== stages (one process, one pass each) ==');
    stages.push(...(await tokenStages(benchItems)));
    stages.push(...(await pipelineStages({ baseDbUrl, dbPrefix, redis, sim, chunk }, benchItems)));
    say(stageTable(stages));
  }

  if (only.has('e2e')) {
    say(`\n== end to end: ${items} items, ${procs} fleet process(es), ${runs} interleaved run(s) ==`);
    const env: BenchEnv = {
      baseDbUrl, dbPrefix, redis, sim, referenceDir, fakeBase: fake!.base, fakePid: fake!.pid,
      items: benchItems, procs, chunk, env: fleetEnvExtra, profileDir, timeoutMs, webhook,
    };
    for (let run = 1; run <= runs; run++) {
      for (const kind of kinds) {
        try {
          const r = kind === 'fleet' ? await fleetRun(env, run) : await referenceRun(env, kind, run);
          console.error(`  ${kind} run ${run}: ${r.itemsPerSecond} items/s${r.ok ? '' : ' (FAILED)'}`);
          e2e.push(r);
        } catch (err) {
          // One broken run (say, a connection killed from outside) leaves a gap, not a lost bench.
          failed = true;
          console.error(`  ${kind} run ${run} FAILED: ${(err as Error).message}`);
        }
      }
    }
    say(runTable(e2e));
    say(ratioLines([ratios(e2e, 'reference'), ratios(e2e, 'floor')]));
    const cpu = cpuSummary(e2e);
    if (cpu) say(cpuLine(cpu));
    say(rssLines(e2e));
    say(timelineLines(e2e));
    failed ||= e2e.some((r) => !r.ok);
  }

  if (only.has('file')) {
    say(`\n== output file: ${fileLines} lines of 3,700-character answers, process role alone, default settings ==`);
    // The answers must really be 3,700 characters: the simulator's full execution (zero delays),
    // not the `instant` content of the end-to-end runs.
    const fileSim = await startSimulatorProcess(join(REPO, 'bench', 'scenarios', 'zero-delay.json'), 'simulator-file', simulatorProfile('simulator-file'));
    try {
      file = await fileBench({ baseDbUrl, dbPrefix, redis, sim: fileSim, lines: fileLines, chunk, env: fleetEnvExtra, profileDir, timeoutMs });
    } finally {
      await fileSim.close();
    }
    say(
      `file ${file.outputFileMb ?? '?'} MB, ${file.lines} lines: ${file.linesPerSecond} lines/s (${file.seconds} s); process worker peak RSS ${file.processWorker.peakRssMb} MB ` +
        `(${file.processWorker.rssBeforeMb} MB before), CPU ${file.processWorker.cpuSeconds} s, idle ${file.processWorker.idleShare}, ` +
        `${file.processWorker.sqlStatementsPerLine} SQL/line, node flags ${file.processWorker.nodeFlags.join(' ') || 'none'}; provider took ${file.providerSeconds} s${file.ok ? '' : ' (FAILED)'}`,
    );
    failed ||= !file.ok;
  }
} finally {
  await fake?.close();
  await sim.close();
  await redis.close();
  for (const suffix of ['fleet', 'ref', 'stages', 'file']) await dropDatabase(baseDbUrl, `${dbPrefix}_${suffix}`).catch(() => undefined);
}

const report = {
  bench: 'batchfleet',
  at: new Date().toISOString(),
  ok: !failed,
  options: { items, procs, runs, fileLines, chunk, scenario: values.scenario, env: fleetEnvExtra, profile: values.profile, webhooks: !values['no-webhooks'], runtime: values.source ? 'source' : 'dist', smoke },
  machine: { ...info, redisPrivate: redis.private },
  stages,
  e2e: { runs: e2e, ratioToReference: ratios(e2e, 'reference'), ratioToFloor: ratios(e2e, 'floor'), cpu: cpuSummary(e2e) },
  file: file ?? null,
  profiles: profileDir ?? null,
};
mkdirSync(VAR, { recursive: true });
const file1 = join(VAR, `bench-${stamp}.json`);
writeFileSync(file1, `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(join(VAR, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
say(`\nJSON: ${resolve(file1)}${profileDir ? `; CPU profiles: ${profileDir}` : ''}`);
if (values.json) process.stdout.write(`${JSON.stringify(report)}\n`);
process.exitCode = failed ? 1 : 0;
