/**
 * The simulated clock. Simulated time runs `timeScale` times faster than real time (0 freezes it,
 * so only {@link SimClock.advance} moves it), which lets a 24 h completion window pass in seconds
 * and lets tests step through a batch's life deterministically instead of sleeping.
 *
 * Timers are kept in one list and a single real `setTimeout` is armed for the earliest one, so an
 * idle simulator costs nothing: no polling, no intervals.
 */

/** A clock whose time can run faster than real time and be advanced by hand. */
export interface SimClock {
  /** Simulated now, milliseconds since the Unix epoch. */
  now(): number;
  /** Simulated now, whole Unix seconds (what every `*_at` field carries). */
  nowSeconds(): number;
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
  let timers: Timer[] = [];
  let nextId = 1;
  let armed: NodeJS.Timeout | undefined;
  let closed = false;
  let firing = false;

  const now = (): number => anchorSim + (performance.now() - anchorReal) * scale;

  const rebase = (): void => {
    anchorSim = now();
    anchorReal = performance.now();
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
    get timeScale() {
      return scale;
    },
    setTimeScale(next: number) {
      if (!Number.isFinite(next) || next < 0) throw new RangeError(`timeScale must be a finite number >= 0, got ${next}`);
      rebase();
      scale = next;
      arm();
    },
    advance(seconds: number) {
      if (!Number.isFinite(seconds) || seconds < 0) throw new RangeError(`advance() needs seconds >= 0, got ${seconds}`);
      anchorSim += seconds * 1000;
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
