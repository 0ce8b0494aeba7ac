/*
 * Real worker processes for tests: `node --import tsx workers/<role>.ts`, exactly what a
 * Kubernetes pod runs, pointed at a test's private database schema, Redis prefix, simulator and
 * data directory. Each child's stdout and stderr are kept (the tail of each) to print when a test
 * fails. Children are killed (SIGKILL) or stopped (SIGTERM) on demand and restarted; none may
 * outlive its test:
 * - `ProcessGroup.stopAll()` in the test's afterAll;
 * - under vitest, an afterAll registered here kills whatever a test file left running and fails it;
 * - on the parent's exit, every child still alive is SIGKILLed (synchronously);
 * - each child watches its parent and kills itself if it is orphaned (the parent was SIGKILLed).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Role } from '../../src/queues/names.ts';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');

/** The fixture registry whose hooks count onResult/onFailure calls in `hook_calls`. */
export const COUNTING_TASKS = 'test/fixtures/counting-tasks.ts';

/**
 * A child that finds itself orphaned (its parent died without cleaning up) ends itself. The parent's
 * pid comes in ORPHAN_WATCH_PARENT: a child whose parent died before this ran would otherwise take
 * init for its parent and never notice.
 */
const ORPHAN_WATCH =
  'data:text/javascript,' +
  encodeURIComponent('const p=Number(process.env.ORPHAN_WATCH_PARENT)||process.ppid;const w=()=>{if(process.ppid!==p)process.kill(process.pid,"SIGKILL")};w();setInterval(w,500).unref();');

/** Variables of the parent that must never reach a test worker (a real key, another fleet's settings, vitest's own). */
const SCRUBBED = /^(OPENAI_|BATCHFLEET_|DATABASE_URL$|REDIS_URL$|SIMULATOR_URL$|DATA_DIR$|NODE_OPTIONS$|VITEST|TEST_|CONCURRENCY_|POLL_|RECONCILE_|SHUTDOWN_|LOG_)/;

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Milliseconds since the epoch. */
  at: number;
}

/** What a test needs to point workers at its private world. */
export interface WorkerWorld {
  databaseUrl: string;
  redisUrl: string;
  prefix: string;
  simulatorUrl: string;
  dataDir: string;
}

/** The environment of a test worker: private world, fast polling, periodic reconcile, quiet logs. */
export function workerEnv(world: WorkerWorld, extra: Record<string, string> = {}): Record<string, string> {
  if (!/[?&]schema=/.test(world.databaseUrl)) throw new Error('workers must get a private schema (?schema=) in DATABASE_URL');
  if (world.prefix === 'batchfleet') throw new Error('workers must not use the default prefix');
  return {
    DATABASE_URL: world.databaseUrl,
    REDIS_URL: world.redisUrl,
    BATCHFLEET_PREFIX: world.prefix,
    SIMULATOR_URL: world.simulatorUrl,
    DATA_DIR: world.dataDir,
    BATCHFLEET_TASKS: COUNTING_TASKS,
    POLL_MIN_MS: '100',
    POLL_MAX_MS: '500',
    RECONCILE_EVERY_MS: '2000',
    LOG_LEVEL: 'warn',
    LOG_PRETTY: 'false',
    METRICS_PORT: '0', // off unless a test asks: parallel worker processes would all want the default port
    ...extra,
  };
}

/** The parent's environment without the variables that must never reach a test child, plus `extra`. */
export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k, v]) => v !== undefined && !SCRUBBED.test(k))) as Record<string, string>;
  return { ...base, ...extra };
}

const TAIL_BYTES = 64 * 1024;

/** One worker process. */
export class WorkerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly startedAt = Date.now();
  /** Set once the child has exited. */
  exitInfo: ExitInfo | undefined;
  /** Resolves when the child has exited (never rejects). */
  readonly exited: Promise<ExitInfo>;
  /** True once the test asked it to stop (SIGTERM or SIGKILL): any other exit is a crash. */
  stopRequested = false;
  private out = '';

  constructor(
    readonly role: Role,
    readonly name: string,
    env: Record<string, string>,
  ) {
    this.child = spawn(process.execPath, ['--import', 'tsx', '--import', ORPHAN_WATCH, join('workers', `${role}.ts`)], {
      cwd: REPO_ROOT,
      env: childEnv({ ...env, ORPHAN_WATCH_PARENT: String(process.pid) }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (this.child.pid === undefined) throw new Error(`could not spawn worker ${name}`);
    this.pid = this.child.pid;
    const keep = (chunk: Buffer) => {
      this.out += chunk.toString('utf8');
      if (this.out.length > 2 * TAIL_BYTES) this.out = this.out.slice(-TAIL_BYTES);
    };
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
    this.exited = new Promise<ExitInfo>((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal, at: Date.now() };
        resolve(this.exitInfo);
      });
    });
  }

  get alive(): boolean {
    return this.exitInfo === undefined;
  }

  /** The last 64 KB or so of the child's stdout and stderr. */
  output(): string {
    return this.out.slice(-TAIL_BYTES);
  }

  /** Waits until the child has printed a line matching `pattern` (e.g. a log message); fails if it exits first. */
  async waitForOutput(pattern: RegExp, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.out)) {
      if (!this.alive) throw new Error(`worker ${this.name} exited before printing ${pattern}:\n${this.output()}`);
      if (Date.now() > deadline) throw new Error(`worker ${this.name} did not print ${pattern} within ${timeoutMs} ms:\n${this.output()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Sends a signal (SIGKILL by default) and waits for the exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<ExitInfo> {
    if (this.exitInfo) return this.exitInfo;
    this.stopRequested = true;
    this.child.kill(signal);
    return this.exited;
  }

  /**
   * SIGTERM, then waits up to `timeoutMs` for the exit. Returns the exit and how long it took (for
   * reports only: a loaded machine makes it slower, so no test asserts it); a child still alive
   * after `timeoutMs` is SIGKILLed and reported with `timedOut: true`.
   */
  async terminate(timeoutMs: number): Promise<{ exit: ExitInfo; ms: number; timedOut: boolean }> {
    const started = Date.now();
    this.stopRequested = true;
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), timeoutMs)));
    const first = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (first === 'late') {
      const ms = Date.now() - started;
      this.child.kill('SIGKILL');
      return { exit: await this.exited, ms, timedOut: true };
    }
    return { exit: first, ms: first.at - started, timedOut: false };
  }
}

/** Every group with a live child: the guards below kill them. */
export const openProcessGroups = new Set<ProcessGroup>();

/** The worker processes of one test, sharing one environment. */
export class ProcessGroup {
  /** Every process started, in order, alive or not. */
  readonly history: WorkerProcess[] = [];
  private counters = new Map<Role, number>();

  constructor(private readonly env: Record<string, string>) {
    openProcessGroups.add(this);
  }

  /** Starts one worker of `role`; `extraEnv` is merged over the group's environment. */
  start(role: Role, extraEnv: Record<string, string> = {}): WorkerProcess {
    const n = (this.counters.get(role) ?? 0) + 1;
    this.counters.set(role, n);
    const proc = new WorkerProcess(role, `${role}#${n}`, { ...this.env, ...extraEnv });
    this.history.push(proc);
    openProcessGroups.add(this);
    return proc;
  }

  /** Starts `perRole` workers of each role. */
  startEach(roles: readonly Role[], perRole: number, extraEnv: Record<string, string> = {}): WorkerProcess[] {
    const procs: WorkerProcess[] = [];
    for (let i = 0; i < perRole; i++) for (const role of roles) procs.push(this.start(role, extraEnv));
    return procs;
  }

  /** SIGKILLs `proc` (if alive) and starts a replacement of the same role. */
  async restart(proc: WorkerProcess, extraEnv: Record<string, string> = {}): Promise<WorkerProcess> {
    await proc.kill('SIGKILL');
    return this.start(proc.role, extraEnv);
  }

  /** The processes still running, optionally of one role. */
  live(role?: Role): WorkerProcess[] {
    return this.history.filter((p) => p.alive && (role === undefined || p.role === role));
  }

  /** Processes that exited although nobody asked them to: crashes. */
  crashed(): WorkerProcess[] {
    return this.history.filter((p) => !p.alive && !p.stopRequested);
  }

  /** Everything the processes printed, each under a header: for a failing test's report. */
  report(): string {
    return this.history
      .map((p) => {
        const exit = p.exitInfo ? `exited code=${p.exitInfo.code} signal=${p.exitInfo.signal}` : 'running';
        const out = p.output().trim();
        return `----- worker ${p.name} pid ${p.pid} (${exit}${p.stopRequested ? ', stopped by the test' : ''}) -----\n${out || '(no output)'}`;
      })
      .join('\n');
  }

  /** SIGKILLs every live child and waits for them all. */
  async stopAll(): Promise<void> {
    await Promise.all(this.live().map((p) => p.kill('SIGKILL')));
    openProcessGroups.delete(this);
  }
}

function killEverythingNow(): number {
  let n = 0;
  for (const group of openProcessGroups) {
    for (const p of group.live()) {
      p.stopRequested = true;
      p.child.kill('SIGKILL');
      n++;
    }
  }
  return n;
}

process.on('exit', killEverythingNow);

if (process.env.VITEST) {
  // A test file that leaves a worker process running fails (and the process is killed).
  const { afterAll } = await import('vitest');
  afterAll(async () => {
    const left = [...openProcessGroups].flatMap((g) => g.live());
    if (left.length === 0) return;
    await Promise.all([...openProcessGroups].map((g) => g.stopAll()));
    throw new Error(`${left.length} worker process(es) were left running (${left.map((p) => p.name).join(', ')}): stop every ProcessGroup you start`);
  });
}

/**
 * Waits until each queue has at least the given number of connected workers (BullMQ names each
 * worker's blocking connection, so CLIENT LIST shows who is listening): a started process is ready.
 */
export async function waitForWorkers(
  queues: { byRole: Record<Role, { getWorkersCount(): Promise<number> }> },
  counts: Partial<Record<Role, number>>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const missing: string[] = [];
    for (const [role, n] of Object.entries(counts) as Array<[Role, number]>) {
      const have = await queues.byRole[role].getWorkersCount();
      if (have < n) missing.push(`${role} ${have}/${n}`);
    }
    if (missing.length === 0) return;
    if (Date.now() > deadline) throw new Error(`worker processes not ready after ${timeoutMs} ms: ${missing.join(', ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
