/** Logging: a pino logger that redacts secrets always and bodies by default, plus a capture helper for tests. */
export { captureLogs, type CapturedLogs } from './capture.ts';
export { createErrorSerializer, errorSerializer, type ErrorSerializerOptions } from './error-serializer.ts';
export { DEFAULT_SERVICE_NAME, batchLogger, createLogger, itemLogger, wantsPretty, type LoggerOptions } from './logger.ts';
export {
  BODY_KEYS,
  ERROR_BODY_KEYS,
  MAX_REDACT_DEPTH,
  REDACTED,
  SECRET_KEY_SUFFIXES,
  isBodyKey,
  isSecretKey,
  redactPaths,
  redactValue,
  scrubSecrets,
  type RedactOptions,
} from './redaction.ts';
