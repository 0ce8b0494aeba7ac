/**
 * Reading other processes from /proc (Linux): CPU seconds, peak RSS, and PostgreSQL backends by
 * database. A process's CPU is sampled while it lives, so a process that exits between two
 * samples loses at most one sampling period of CPU; the tracker keeps the last value it saw.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticks = 100;
try {
  ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  /* keep 100, the Linux default */
}

/** utime + stime of a process in seconds, or undefined when it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields after the name: state(3) ... utime(14) stime(15), 1-based in proc(5).
    return (Number(f[11]) + Number(f[12])) / ticks;
  } catch {
    return undefined;
  }
}

/** A memory line of /proc/<pid>/status (VmRSS, VmHWM) in MiB, or undefined if the process is gone. */
function statusMb(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

/** Current resident set (VmRSS) of a live process in MiB, or undefined. */
export const rssMb = (pid: number): number | undefined => statusMb(pid, 'VmRSS');

/** Peak resident set (VmHWM) of a live process in MiB, or undefined. */
export const peakRssMb = (pid: number): number | undefined => statusMb(pid, 'VmHWM');

function cmdline(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+/g, ' ').trim();
  } catch {
    return '';
  }
}

const BACKEND = /^postgres: [^:]+: (\S+) (\S+) /;

/** PostgreSQL backends connected to `database` (their process title names it). */
export function postgresBackends(database: string): number[] {
  const out: number[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const m = BACKEND.exec(cmdline(pid));
    if (m && m[2] === database) out.push(Number(pid));
  }
  return out;
}

/** Every PostgreSQL process of the cluster (server, background workers, all backends). */
export function postgresProcesses(): number[] {
  const out: number[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const c = cmdline(pid);
    if (c.startsWith('postgres:') || /\/postgres(\s|$)/.test(c.split(' ')[0] ?? '')) out.push(Number(pid));
  }
  return out;
}

/**
 * CPU used by a changing set of processes over a window: `start()` records each process's CPU,
 * `sample()` (called periodically and at the end) the latest; the total counts each process
 * from its value at start (or 0 if it appeared later) to the last value seen.
 */
export class CpuTracker {
  private readonly first = new Map<number, number>();
  private readonly last = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly pids: () => number[]) {}

  start(periodMs = 200): void {
    for (const pid of this.pids()) {
      const s = cpuSeconds(pid);
      if (s !== undefined) {
        this.first.set(pid, s);
        this.last.set(pid, s);
      }
    }
    this.timer = setInterval(() => this.sample(), periodMs);
    this.timer.unref();
  }

  sample(): void {
    for (const pid of this.pids()) {
      const s = cpuSeconds(pid);
      if (s === undefined) continue;
      if (!this.first.has(pid)) this.first.set(pid, 0);
      this.last.set(pid, s);
    }
  }

  /** Stops sampling and returns the CPU seconds used since start. */
  stop(): number {
    this.sample();
    if (this.timer) clearInterval(this.timer);
    let total = 0;
    for (const [pid, s] of this.last) total += s - (this.first.get(pid) ?? 0);
    return total;
  }
}
