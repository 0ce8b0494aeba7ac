import type { DestinationStream } from 'pino';

/** Raw log output collected in memory, for tests that must prove what was (not) logged. */
export interface CapturedLogs {
  /** Pass as `createLogger({ destination })`. */
  stream: DestinationStream;
  /** Everything written, exactly as written. */
  text(): string;
  /** Non-empty output lines. */
  lines(): string[];
  /** Lines parsed as JSON (JSON output only; throws on pretty output). */
  records(): Array<Record<string, unknown>>;
  /** Forgets what was captured so far. */
  clear(): void;
}

/** A destination that keeps every raw chunk written to it. Test helper. */
export function captureLogs(): CapturedLogs {
  const chunks: string[] = [];
  const text = (): string => chunks.join('');
  const lines = (): string[] => text().split('\n').filter((l) => l.length > 0);
  return {
    stream: { write: (chunk: string) => void chunks.push(chunk) },
    text,
    lines,
    records: () => lines().map((l) => JSON.parse(l) as Record<string, unknown>),
    clear: () => void chunks.splice(0),
  };
}
