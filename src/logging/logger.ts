import { pino, type DestinationStream, type Logger, type LoggerOptions as PinoOptions } from 'pino';
import pinoPretty from 'pino-pretty';
import { createErrorSerializer } from './error-serializer.ts';
import { REDACTED, redactPaths, redactValue, scrubSecrets } from './redaction.ts';

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Minimum level (`fatal`…`trace`, `silent`). @defaultValue 'info' */
  level?: string;
  /** Human-readable output through pino-pretty; `'auto'`: only when stdout is a TTY. @defaultValue false (JSON) */
  pretty?: boolean | 'auto';
  /**
   * Show prompt and response bodies instead of redacting them (`LOG_BODIES=true`). Keys,
   * authorization headers and other secrets are redacted regardless. @defaultValue false
   */
  showBodies?: boolean;
  /** Where lines go (e.g. `captureLogs().stream`). @defaultValue stdout */
  destination?: DestinationStream;
  /** Service name, logged as `service` on every line. @defaultValue 'batchfleet' */
  name?: string;
}

/** Default service name. */
export const DEFAULT_SERVICE_NAME = 'batchfleet';

/** Whether `pretty` means pretty output here. */
export function wantsPretty(pretty: LoggerOptions['pretty'], isTTY: boolean = process.stdout.isTTY === true): boolean {
  return pretty === true || (pretty === 'auto' && isTTY);
}

/** A destination that prettifies each JSON line (in-process and synchronous: no worker thread). */
function prettyDestination(target: DestinationStream, colorize: boolean): DestinationStream {
  const prettify = pinoPretty.prettyFactory({ colorize, translateTime: 'SYS:standard', ignore: 'pid,hostname' });
  return {
    write(line: string): void {
      target.write(prettify(line));
    },
  };
}

/**
 * The process logger: pino, JSON lines by default (pretty with `pretty`), base fields
 * `service` and `pid`, ISO timestamps. Secrets are always redacted and bodies unless
 * `showBodies` (see `redaction.ts` for the three layers); errors under `err` / `error` (or
 * passed as `log.error(err)`) are serialized by the scrubbing error serializer.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const bodies = !options.showBodies;
  const serializeError = createErrorSerializer({ bodies });
  const pinoOptions: PinoOptions = {
    level: options.level ?? 'info',
    base: { service: options.name ?? DEFAULT_SERVICE_NAME, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: redactPaths({ bodies }), censor: REDACTED },
    serializers: { err: serializeError, error: serializeError },
    formatters: {
      log: (obj) => redactValue(obj, { bodies, serializeError }),
      bindings: (b) => redactValue(b, { bodies, serializeError }),
    },
    hooks: { streamWrite: scrubSecrets },
  };
  let destination = options.destination;
  if (wantsPretty(options.pretty)) {
    const colorize = destination === undefined && process.stdout.isTTY === true;
    destination = prettyDestination(destination ?? pino.destination({ dest: 1, sync: true }), colorize);
  }
  return destination ? pino(pinoOptions, destination) : pino(pinoOptions);
}

/** A child logger for one batch: every line carries `batchId`. */
export function batchLogger(log: Logger, batchId: string): Logger {
  return log.child({ batchId });
}

/** A child logger for one item: every line carries `itemId`. */
export function itemLogger(log: Logger, itemId: string): Logger {
  return log.child({ itemId });
}
