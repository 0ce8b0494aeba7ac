import cliProgress from 'cli-progress';
import type { CliIO } from './io.ts';

export interface Progress {
  update(done: number, total?: number): void;
  stop(): void;
}

const QUIET: Progress = { update: () => undefined, stop: () => undefined };

/**
 * A progress bar on stderr when stderr is a terminal; silent otherwise (pipes, CI, tests), so
 * stdout stays clean for `--json` either way.
 */
export function progress(io: CliIO, label: string, total: number): Progress {
  if (!io.stderr.isTTY) return QUIET;
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {percentage}% | {value}/{total} | {duration_formatted}`,
      stream: io.stderr as NodeJS.WritableStream,
      hideCursor: true,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(Math.max(total, 1), 0);
  return {
    update(done, newTotal) {
      if (newTotal !== undefined) bar.setTotal(Math.max(newTotal, 1));
      bar.update(done);
    },
    stop() {
      bar.stop();
    },
  };
}
