/**
 * Two clocks in one. SIMULATED time runs `timeScale` times faster than real time (0 freezes it,
 * so only {@link SimClock.advance} moves it): every duration (validation, processing, the 24 h
 * window, retries) is measured in it, so a day passes in seconds. WALL time is what timestamps
 * show (`created_at`, `*_at`, file lifetimes, webhook `created_at`): it runs at real speed while
 * the clock runs, stands still while it is frozen, and moves with {@link SimClock.advance} (a
 * manual jump moves both). So at ×1000 a batch's `created_at` is the real time of its creation and
 * `expires_at` is 24 real hours later, while the batch finishes in seconds; with a frozen clock
 * both clocks are equal, and tests can step through a batch's life exactly.
 * {@link SimClock.wallAt} maps a simulated instant to the wall time it happened at, through the
 * recorded history of speed changes and jumps.
 *
 * Timers are kept in one list and a single real `setTimeout` is armed for the earliest one, so an
 * idle simulator costs nothing: no polling, no intervals.
 */

/** A clock whose time can run faster than real time and be advanced by hand. */
export interface SimClock {
  /** Simulated now, milliseconds since the Unix epoch. */
  now(): number;
  /** Simulated now, whole Unix seconds. */
  nowSeconds(): number;
  /** Wall-clock now, ms: what timestamps show. */
  wallNow(): number;
  /** Wall-clock now, whole Unix seconds. */
  wallSeconds(): number;
  /** The wall-clock ms at which simulated instant `simMs` happens (or happened). */
  wallAt(simMs: number): number;
  /** Simulated seconds per real second; 0 means time only moves through {@link advance}. */
  readonly timeScale: number;
  /** Change the speed from now on (already elapsed simulated time is kept). */
  setTimeScale(scale: number): void;
  /** Move simulated time forward by `seconds` and run every timer that became due. */
  advance(seconds: number): void;
  /** Run `fn` once simulated time reaches `atMs`; returns a function that cancels it. */
  at(atMs: number, fn: () => void): () => void;
  /** Stop all timers (the clock keeps answering `now()`). */
  close(): void;
}

interface Timer {
  id: number;
  at: number;
  fn: () => void;
}

const MAX_TIMEOUT_MS = 2_147_483_647;

/**
 * Create a simulated clock.
 * @param options.timeScale simulated seconds per real second (default 1000; 0 = frozen)
 * @param options.startMs simulated start time (default: the real current time)
 */
export function createSimClock(options: { timeScale?: number; startMs?: number } = {}): SimClock {
  let scale = options.timeScale ?? 1000;
  if (!Number.isFinite(scale) || scale < 0) throw new RangeError(`timeScale must be a finite number >= 0, got ${scale}`);
  let anchorSim = options.startMs ?? Date.now();
  let anchorReal = performance.now();
  let anchorWall = anchorSim;
  // (simulated ms, wall ms, wall ms per simulated ms) from each speed change or jump on.
  const history: Array<{ sim: number; wall: number; rate: number }> = [];
  const record = (rate: number): void => {
    history.push({ sim: anchorSim, wall: anchorWall, rate });
    if (history.length > 10_000) history.splice(0, history.length - 10_000);
  };
  let timers: Timer[] = [];
  let nextId = 1;
  let armed: NodeJS.Timeout | undefined;
  let closed = false;
  let firing = false;

  const now = (): number => anchorSim + (performance.now() - anchorReal) * scale;

  const wallNow = (): number => anchorWall + (scale > 0 ? performance.now() - anchorReal : 0);

  const rebase = (): void => {
    anchorWall = wallNow();
    anchorSim = now();
    anchorReal = performance.now();
  };
  record(scale > 0 ? 1 / scale : 1);

  const wallAt = (simMs: number): number => {
    let seg = history[0]!;
    for (let i = history.length - 1; i >= 0; i--) {
      const h = history[i]!;
      if (h.sim <= simMs) {
        seg = h;
        break;
      }
    }
    return seg.wall + (simMs - seg.sim) * seg.rate;
  };

  const arm = (): void => {
    if (armed) clearTimeout(armed);
    armed = undefined;
    if (closed || timers.length === 0 || scale === 0) return;
    let earliest = Infinity;
    for (const t of timers) if (t.at < earliest) earliest = t.at;
    const delay = Math.min(MAX_TIMEOUT_MS, Math.max(0, Math.ceil((earliest - now()) / scale)));
    armed = setTimeout(fire, delay);
    armed.unref();
  };

  const fire = (): void => {
    if (firing || closed) return;
    firing = true;
    try {
      // A callback may schedule new timers that are already due; keep going until none are.
      for (;;) {
        const t = now();
        const due = timers.filter((x) => x.at <= t).sort((a, b) => a.at - b.at || a.id - b.id);
        if (due.length === 0) break;
        const dueIds = new Set(due.map((x) => x.id));
        timers = timers.filter((x) => !dueIds.has(x.id));
        for (const d of due) d.fn();
      }
    } finally {
      firing = false;
      arm();
    }
  };

  return {
    now,
    nowSeconds: () => Math.floor(now() / 1000),
    wallNow,
    wallSeconds: () => Math.floor(wallNow() / 1000),
    wallAt,
    get timeScale() {
      return scale;
    },
    setTimeScale(next: number) {
      if (!Number.isFinite(next) || next < 0) throw new RangeError(`timeScale must be a finite number >= 0, got ${next}`);
      rebase();
      scale = next;
      record(scale > 0 ? 1 / scale : 1);
      arm();
    },
    advance(seconds: number) {
      if (!Number.isFinite(seconds) || seconds < 0) throw new RangeError(`advance() needs seconds >= 0, got ${seconds}`);
      rebase();
      record(1);
      anchorSim += seconds * 1000;
      anchorWall += seconds * 1000;
      record(scale > 0 ? 1 / scale : 1);
      fire();
    },
    at(atMs: number, fn: () => void) {
      if (closed) return () => {};
      const timer: Timer = { id: nextId++, at: atMs, fn };
      timers.push(timer);
      if (!firing) {
        if (atMs <= now()) queueMicrotask(fire);
        else arm();
      }
      return () => {
        timers = timers.filter((x) => x.id !== timer.id);
      };
    },
    close() {
      closed = true;
      timers = [];
      if (armed) clearTimeout(armed);
      armed = undefined;
    },
  };
}
