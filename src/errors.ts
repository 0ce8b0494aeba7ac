/**
 * Typed errors, following BullMQ's idiom: an exported message constant where one is fixed,
 * `name` taken from the constructor, and the prototype fixed up so `instanceof` works.
 */
export class BatchfleetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = this.constructor.name;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/** The environment does not describe a valid configuration. */
export class ConfigError extends BatchfleetError {}

/** An intake payload was rejected; `reason` is what the producer sees. */
export class IntakeRejectedError extends BatchfleetError {
  constructor(
    readonly reason: string,
    readonly task?: string,
  ) {
    super(`intake payload rejected: ${reason}`);
  }
}

/** A task name that no registered task answers to. */
export class UnknownTaskError extends BatchfleetError {
  constructor(readonly task: string) {
    super(`unknown task "${task}"`);
  }
}

/** A task module that does not satisfy the task contract. */
export class TaskDefinitionError extends BatchfleetError {}

/** A provider call failed; `retryable` says whether trying again can help. */
export class ProviderError extends BatchfleetError {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
    readonly code?: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** A record looked up by an id that nothing answers to. */
export class UnknownRecordError extends BatchfleetError {
  constructor(
    readonly kind: 'batch' | 'item',
    readonly id: string,
  ) {
    super(`no ${kind} ${id}`);
  }
}

/**
 * PostgreSQL or Redis cannot be used at all: unreachable, refusing the login, or without the
 * batchfleet tables. The message is one line saying what to do; URLs in it carry no password.
 * Made by `classifyConnectionError` / `checkConnections` (src/runtime/connection-errors.ts).
 */
export class ConnectionError extends BatchfleetError {}

/** PostgreSQL does not answer at `endpoint` (host:port): refused, unknown host, timed out (`reason`, empty when unknown). */
export class DatabaseUnreachableError extends ConnectionError {
  constructor(
    readonly endpoint: string,
    readonly reason: string,
  ) {
    super(`cannot reach PostgreSQL at ${endpoint} (DATABASE_URL)${reason ? `: ${reason}` : ''}; ${reason === 'host not found' ? 'check the host in DATABASE_URL' : 'is it running?'}`);
  }
}

/** The database (or the schema in the URL) lacks the batchfleet tables, or does not exist at all. */
export class DatabaseNotMigratedError extends ConnectionError {
  constructor(
    readonly database: string,
    readonly schema: string | undefined,
    /** DATABASE_URL without its password. */
    readonly url: string,
    /** `database`: the database does not exist; `tables`: some or all tables are missing. */
    readonly missing: 'database' | 'tables',
    readonly tables: readonly string[] = [],
  ) {
    const where = `database "${database}"${schema ? ` (schema "${schema}")` : ''}`;
    const what =
      missing === 'database'
        ? `${where} does not exist; run \`npx prisma migrate deploy\` to create it and its tables`
        : `${where} has no batchfleet tables${tables.length ? ` (missing: ${tables.join(', ')})` : ''}; run \`npx prisma migrate deploy\``;
    super(`${what} (DATABASE_URL=${url})`);
  }
}

/** PostgreSQL answered but refused the login (user, password, or permission). */
export class DatabaseAccessError extends ConnectionError {
  constructor(
    readonly endpoint: string,
    readonly reason: string,
    /** DATABASE_URL without its password. */
    readonly url: string,
  ) {
    super(`PostgreSQL at ${endpoint} refused the login: ${reason}; check the user and password in DATABASE_URL (${url})`);
  }
}

/** Redis does not answer at `endpoint` (host:port). */
export class RedisUnreachableError extends ConnectionError {
  constructor(
    readonly endpoint: string,
    readonly reason: string,
  ) {
    super(`cannot reach Redis at ${endpoint} (REDIS_URL)${reason ? `: ${reason}` : ''}; ${reason === 'host not found' ? 'check the host in REDIS_URL' : 'is it running?'}`);
  }
}

/** Redis answered but refused the login (NOAUTH, WRONGPASS). */
export class RedisAccessError extends ConnectionError {
  constructor(
    readonly endpoint: string,
    readonly reason: string,
  ) {
    super(`Redis at ${endpoint} refused the login: ${reason}; check the password in REDIS_URL`);
  }
}

/** `prisma migrate deploy` could not bring a database up to date (the demo migrates its own schema). */
export class MigrationError extends BatchfleetError {}
