/**
 * What every entry point (CLI, worker processes, demo) says when PostgreSQL or Redis cannot be
 * used: one line naming the server, the variable to look at and what to run. The typed errors live
 * in src/errors.ts; this module recognises driver errors (Prisma and its pg adapter, pg, Node's
 * sockets, ioredis) as one of them, and checks both servers before an entry point starts work.
 */
import type { Redis } from 'ioredis';
import {
  ConnectionError,
  DatabaseAccessError,
  DatabaseNotMigratedError,
  DatabaseUnreachableError,
  RedisAccessError,
  RedisUnreachableError,
} from '../errors.ts';
import { REDACTED, scrubSecrets } from '../logging/redaction.ts';
import { parseDatabaseUrl } from '../store/db.ts';
import { missingTables, TABLES } from '../store/tables.ts';

/** The two URLs an error may be about. */
export interface ConnectionUrls {
  databaseUrl: string;
  redisUrl: string;
}

type Side = 'database' | 'redis';

/** `url` with its password (and any `password=` query parameter) replaced by `[redacted]`, as in the logs. */
export function redactUrl(url: string): string {
  const MARK = 'REDACTEDxPASSWORD';
  try {
    const u = new URL(url);
    if (u.password) u.password = MARK;
    if (u.searchParams.has('password')) u.searchParams.set('password', MARK);
    return u.toString().replaceAll(MARK, REDACTED);
  } catch {
    return scrubSecrets(url);
  }
}

/** `host:port` of a URL, with the scheme's default port. */
export function endpointOf(url: string): string {
  try {
    const u = new URL(url);
    const port = u.port || (u.protocol.startsWith('redis') ? '6379' : '5432');
    return `${u.hostname || '127.0.0.1'}:${port}`;
  } catch {
    return url;
  }
}

/** Node socket codes, as a person would say them. */
const SOCKET_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed',
};

/** The error, its causes, Prisma's driver-adapter error and an AggregateError's members, outermost first. */
function* chain(err: unknown, depth = 0): Generator<Record<string, unknown>> {
  if (!err || typeof err !== 'object' || depth > 6) return;
  const e = err as Record<string, unknown>;
  yield e;
  const meta = e.meta as Record<string, unknown> | undefined;
  const adapter = meta?.driverAdapterError as Record<string, unknown> | undefined;
  if (adapter) yield* chain(adapter, depth + 1);
  if (e.cause) yield* chain(e.cause, depth + 1);
  if (Array.isArray(e.errors)) for (const inner of e.errors) yield* chain(inner, depth + 1);
}

function hostPort(url: string): { host: string; port: number } | undefined {
  try {
    const u = new URL(url);
    return { host: u.hostname, port: Number(u.port || (u.protocol.startsWith('redis') ? 6379 : 5432)) };
  } catch {
    return undefined;
  }
}

/** Which server a socket error is about, from the address and port it names. */
function sideOfSocket(e: Record<string, unknown>, urls: Partial<ConnectionUrls>): Side | undefined {
  const port = typeof e.port === 'number' ? e.port : undefined;
  const host = typeof e.hostname === 'string' ? e.hostname : typeof e.address === 'string' ? e.address : undefined;
  const matches = (url: string | undefined) => {
    const hp = url ? hostPort(url) : undefined;
    if (!hp) return false;
    if (port !== undefined) return hp.port === port;
    return host !== undefined && hp.host === host;
  };
  const db = matches(urls.databaseUrl);
  const redis = matches(urls.redisUrl);
  if (db === redis) return undefined;
  return db ? 'database' : 'redis';
}

function notMigrated(databaseUrl: string, missing: 'database' | 'tables', tables: string[] = []): DatabaseNotMigratedError {
  const { database, schema } = parseDatabaseUrl(databaseUrl);
  return new DatabaseNotMigratedError(database, schema, redactUrl(databaseUrl), missing, tables);
}

const SQLSTATE = /^[0-9A-Z]{5}$/;

function classifyOne(e: Record<string, unknown>, urls: Partial<ConnectionUrls>, side: Side | undefined): ConnectionError | undefined {
  if (e instanceof ConnectionError) return e;
  const db = urls.databaseUrl;
  const redis = urls.redisUrl;
  const code = typeof e.code === 'string' ? e.code : undefined;
  const message = typeof e.message === 'string' ? e.message : '';

  // Prisma's pg adapter (meta.driverAdapterError.cause).
  if (db && typeof e.kind === 'string') {
    const original = typeof e.originalMessage === 'string' ? e.originalMessage : undefined;
    switch (e.kind) {
      case 'DatabaseNotReachable':
        return new DatabaseUnreachableError(endpointOf(db), '');
      case 'SocketTimeout':
        return new DatabaseUnreachableError(endpointOf(db), 'timed out');
      case 'DatabaseDoesNotExist':
        return notMigrated(db, 'database');
      case 'TableDoesNotExist':
        return notMigrated(db, 'tables', typeof e.table === 'string' ? [e.table] : []);
      case 'DatabaseAccessDenied':
      case 'AuthenticationFailed':
        return new DatabaseAccessError(endpointOf(db), original ?? String(e.kind), redactUrl(db));
      default:
        break;
    }
  }
  // Prisma's own codes (typed queries).
  if (db && code && /^P\d{4}$/.test(code)) {
    if (code === 'P1001') return new DatabaseUnreachableError(endpointOf(db), '');
    if (code === 'P1002') return new DatabaseUnreachableError(endpointOf(db), 'timed out');
    if (code === 'P1003') return notMigrated(db, 'database');
    if (code === 'P1000' || code === 'P1010') return new DatabaseAccessError(endpointOf(db), 'access denied', redactUrl(db));
    if (code === 'P2021') {
      const table = (e.meta as { table?: unknown } | undefined)?.table;
      return notMigrated(db, 'tables', typeof table === 'string' ? [table.replace(/^.*\./, '')] : []);
    }
  }
  // PostgreSQL's SQLSTATE (pg, or the adapter's `postgres` kind).
  const sqlstate = code && SQLSTATE.test(code) && ('severity' in e || e.kind === 'postgres') ? code : typeof e.originalCode === 'string' ? e.originalCode : undefined;
  if (db && sqlstate) {
    if (sqlstate === '3D000') return notMigrated(db, 'database');
    if (sqlstate === '42P01') {
      const table = /relation "([^"]+)"/.exec(message || String(e.originalMessage ?? ''))?.[1];
      return notMigrated(db, 'tables', table ? [table.replace(/^.*\./, '')] : []);
    }
    if (sqlstate === '28P01' || sqlstate === '28000') return new DatabaseAccessError(endpointOf(db), message || String(e.originalMessage ?? 'access denied'), redactUrl(db));
    if (sqlstate === '57P03') return new DatabaseUnreachableError(endpointOf(db), 'the server is starting up or shutting down');
  }
  // pg's own connect timeout.
  if (db && side !== 'redis' && /^Connection terminated due to connection timeout|^timeout expired/.test(message)) {
    return new DatabaseUnreachableError(endpointOf(db), 'timed out');
  }
  // Redis refusing the login.
  if (redis && side !== 'database' && /^(NOAUTH|WRONGPASS)\b/.test(message)) return new RedisAccessError(endpointOf(redis), message);
  if (redis && side !== 'database' && e.name === 'MaxRetriesPerRequestError') return new RedisUnreachableError(endpointOf(redis), 'no answer after retries');
  // Sockets: decided by the side the caller knows, else by the address in the error.
  if (code && SOCKET_REASONS[code]) {
    const which = side ?? sideOfSocket(e, urls);
    if (which === 'database' && db) return new DatabaseUnreachableError(endpointOf(db), SOCKET_REASONS[code]);
    if (which === 'redis' && redis) return new RedisUnreachableError(endpointOf(redis), SOCKET_REASONS[code]);
  }
  return undefined;
}

/**
 * The connection problem `err` stands for, or undefined when it is something else. `side` says
 * which server the failing call talked to, when the caller knows; otherwise socket errors are
 * matched to a server by the address they name.
 */
export function classifyConnectionError(err: unknown, urls: Partial<ConnectionUrls>, side?: Side): ConnectionError | undefined {
  for (const e of chain(err)) {
    const found = classifyOne(e, urls, side);
    if (found) return found;
  }
  return undefined;
}

function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Resolves once the database answers and holds every batchfleet table; rejects with a ConnectionError otherwise. */
export async function checkDatabase(databaseUrl: string, timeoutMs = 10_000): Promise<void> {
  let missing: string[];
  try {
    missing = await withTimeout(missingTables(databaseUrl, { connectTimeoutMs: timeoutMs }), timeoutMs + 1_000, () => new DatabaseUnreachableError(endpointOf(databaseUrl), 'timed out'));
  } catch (err) {
    throw classifyConnectionError(err, { databaseUrl }, 'database') ?? err;
  }
  if (missing.length) throw notMigrated(databaseUrl, 'tables', missing.length === TABLES.length ? [] : missing);
}

/** Resolves once `redis` answers a PING; rejects with a ConnectionError after `timeoutMs` or when the client gives up. */
export async function checkRedis(redis: Redis, redisUrl: string, timeoutMs = 10_000): Promise<void> {
  let last: unknown;
  const remember = (err: unknown) => (last = err);
  redis.on('error', remember);
  try {
    await withTimeout(redis.ping(), timeoutMs, () => new Error('timed out'));
  } catch (err) {
    const known = classifyConnectionError(last, { redisUrl }, 'redis') ?? classifyConnectionError(err, { redisUrl }, 'redis');
    if (known) throw known;
    throw new RedisUnreachableError(endpointOf(redisUrl), (last as Error | undefined)?.message ?? (err as Error).message);
  } finally {
    redis.off('error', remember);
  }
}

/**
 * Checks PostgreSQL (reachable, login accepted, tables migrated) and Redis (answers PING) at
 * once, before an entry point starts work; rejects with the first problem as a ConnectionError.
 */
export async function checkConnections(target: { databaseUrl: string; redisUrl: string; redis: Redis }, options: { timeoutMs?: number } = {}): Promise<void> {
  const [db, redis] = await Promise.allSettled([
    checkDatabase(target.databaseUrl, options.timeoutMs),
    checkRedis(target.redis, target.redisUrl, options.timeoutMs),
  ]);
  if (db.status === 'rejected') throw db.reason;
  if (redis.status === 'rejected') throw redis.reason;
}
