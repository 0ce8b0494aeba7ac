/**
 * Child processes of the bench: each one's output goes to a log file under var/bench/logs, and
 * every child still alive when the bench exits is killed, so a failed run leaves nothing behind.
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const REPO = join(import.meta.dirname, '..', '..');
export const VAR = join(REPO, 'var', 'bench');
export const LOGS = join(VAR, 'logs');

let childNode = process.execPath;

/** The node binary every measured child runs on (fleet, simulator, naive reference, floor): `--node`, else the bench's own. */
export function childNodeBinary(): string {
  return childNode;
}

/** Runs the measured children on the node binary at `path` (`--node`); returns its version. */
export function useChildNode(path: string): string {
  let version: string;
  try {
    version = execFileSync(path, ['--version'], { encoding: 'utf8' }).trim();
  } catch (err) {
    throw new Error(`bench: --node ${path} does not run: ${(err as Error).message}`);
  }
  childNode = path;
  return version;
}

const alive = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of alive) c.kill('SIGKILL');
});

/** A spawned child: its pid, a promise of its exit, and the lines of its stdout as they come. */
export interface Child {
  proc: ChildProcess;
  pid: number;
  name: string;
  exited: Promise<number | null>;
  /** Resolves with the first stdout line matching `re` (rejects if the child exits first or after `timeoutMs`). */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<string>;
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
}

/** Spawns `cmd args`, logging stdout and stderr to var/bench/logs/<name>.log. */
export function spawnChild(name: string, cmd: string, args: string[], options: SpawnOptions = {}): Child {
  mkdirSync(LOGS, { recursive: true });
  const log = createWriteStream(join(LOGS, `${name}.log`));
  const proc = spawn(cmd, args, { cwd: REPO, ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  if (proc.pid === undefined) throw new Error(`could not start ${name}: ${cmd} ${args.join(' ')}`);
  alive.add(proc);
  proc.stderr!.pipe(log, { end: false });
  const waiters: Array<{ re: RegExp; resolve(line: string): void }> = [];
  const lines = createInterface({ input: proc.stdout! });
  lines.on('line', (line) => {
    log.write(`${line}\n`);
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i]!.re.test(line)) {
        waiters[i]!.resolve(line);
        waiters.splice(i, 1);
      }
    }
  });
  // 'close' comes after the child's stdout and stderr have ended, so the log is complete.
  proc.once('close', () => log.end());
  const exited = new Promise<number | null>((resolve) =>
    proc.once('exit', (code) => {
      alive.delete(proc);
      resolve(code);
    }),
  );
  return {
    proc,
    pid: proc.pid,
    name,
    exited,
    waitForLine(re, timeoutMs = 120_000) {
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name}: no line matching ${re} within ${timeoutMs} ms (see ${join(LOGS, `${name}.log`)})`)), timeoutMs);
        waiters.push({ re, resolve: (l) => { clearTimeout(timer); resolve(l); } });
        void exited.then((code) => { clearTimeout(timer); reject(new Error(`${name} exited (${code}) before printing ${re}; see ${join(LOGS, `${name}.log`)}`)); });
      });
    },
    async stop(signal = 'SIGTERM', timeoutMs = 30_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Runs a command to completion; rejects with its output tail when it fails. */
export function run(cmd: string, args: string[], options: SpawnOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd: REPO, ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout!.on('data', (c) => (out += c));
    p.stderr!.on('data', (c) => (out += c));
    p.once('error', reject);
    p.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${out.slice(-3000)}`))));
  });
}
