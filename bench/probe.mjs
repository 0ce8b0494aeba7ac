// Bench-only preload for fleet processes (`node --import ./bench/probe.mjs …`); nothing in
// production loads it. It does nothing unless BENCH_PROBE_DIR is set. Then:
// - it counts the SQL statements the process sends (every pg Client#query: Prisma's adapter-pg
//   and our raw SQL both go through it; BEGIN/COMMIT count too);
// - on SIGUSR2 and at exit it writes <dir>/<pid>-<n>.json / <pid>-exit.json with the cumulative
//   event-loop idle/active time (perf_hooks), CPU, peak RSS and the statement count, so the bench
//   can take differences over exactly its timed window.
import { writeFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";

const dir = process.env.BENCH_PROBE_DIR;
if (dir) {
  mkdirSync(dir, { recursive: true });
  let statements = 0;
  try {
    // Resolve pg from the project root: the same module instance the application loads.
    const pg = createRequire(pathToFileURL(join(process.cwd(), "package.json")))("pg");
    const query = pg.Client.prototype.query;
    pg.Client.prototype.query = function (...args) {
      statements++;
      return query.apply(this, args);
    };
  } catch (err) {
    process.stderr.write(`bench probe: cannot count SQL statements: ${err}\n`);
  }
  const snapshot = () => {
    const elu = performance.eventLoopUtilization();
    const cpu = process.cpuUsage();
    return {
      pid: process.pid,
      t: performance.now(),
      idleMs: elu.idle,
      activeMs: elu.active,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
      statements,
    };
  };
  let n = 0;
  process.on("SIGUSR2", () => {
    writeFileSync(join(dir, `${process.pid}-${++n}.json`), JSON.stringify(snapshot()));
  });
  process.on("exit", () => {
    writeFileSync(join(dir, `${process.pid}-exit.json`), JSON.stringify(snapshot()));
  });
}
