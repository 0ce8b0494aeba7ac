import { describe, expect, it } from 'vitest';
import { table } from '../../src/cli/format.ts';
import { CliError } from '../../src/cli/io.ts';
import { oneOf, parseWhen, positiveInt } from '../../src/cli/parse.ts';
import { DEMO_PREFIX, DEMO_SCHEMA, parseDemoArgs, withSchema } from '../../src/demo/run-demo.ts';
import {
  ConfigError,
  DatabaseAccessError,
  DatabaseNotMigratedError,
  DatabaseUnreachableError,
  RedisAccessError,
  RedisUnreachableError,
} from '../../src/errors.ts';
import { classifyConnectionError, endpointOf, redactUrl } from '../../src/runtime/connection-errors.ts';
import { singleLine } from '../../src/runtime/entry.ts';

const NOW = new Date('2026-12-04T18:30:00Z');
const NOT_A_DATE = (v: string) => `--since "${v}" is not a date; use an ISO date (2026-12-01), "today", "yesterday" or a duration like 24h or 7d`;

function refusal(fn: () => unknown): CliError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CliError);
    return err as CliError;
  }
  throw new Error('expected a refusal');
}

describe('CLI option parsers', () => {
  it('reads --since as an ISO date or time (UTC unless an offset is given), today, yesterday or an age', () => {
    const at = (v: string) => parseWhen(v, '--since', NOW).toISOString();
    expect(at('today')).toBe('2026-12-04T00:00:00.000Z');
    expect(at('Yesterday')).toBe('2026-12-03T00:00:00.000Z');
    expect(at('24h')).toBe('2026-12-03T18:30:00.000Z');
    expect(at('7d')).toBe('2026-11-27T18:30:00.000Z');
    expect(at('90m')).toBe('2026-12-04T17:00:00.000Z');
    expect(at('2w')).toBe('2026-11-20T18:30:00.000Z');
    expect(at('2026-12-01')).toBe('2026-12-01T00:00:00.000Z');
    expect(at('2026-12-01T10:30')).toBe('2026-12-01T10:30:00.000Z');
    expect(at('2026-12-01 10:30:15Z')).toBe('2026-12-01T10:30:15.000Z');
    expect(at('2026-12-01T10:30:00.5+01:00')).toBe('2026-12-01T09:30:00.500Z');
  });

  it('refuses anything else with exit code 2 and one line naming the flag, the value and the accepted forms', () => {
    for (const bad of ['foo', 'tomorrow-ish', '1', '', '2026-02-31', '2026-13-01', '2026-12-01T25:00', '12/01/2026']) {
      const err = refusal(() => parseWhen(bad, '--since', NOW));
      expect(err.exitCode).toBe(2);
      expect(err.message).toBe(NOT_A_DATE(bad));
    }
  });

  it('checks numbers and choices the same way', () => {
    expect(positiveInt('--limit')('25')).toBe(25);
    for (const bad of ['0', '-3', '1.5', 'x', '', '1e3']) {
      const err = refusal(() => positiveInt('--limit')(bad));
      expect(err.exitCode).toBe(2);
      expect(err.message).toBe(`--limit "${bad}" is not a positive whole number; use e.g. --limit 100`);
    }
    expect(oneOf('--by', ['task', 'model'] as const, 'grouping')('model')).toBe('model');
    expect(refusal(() => oneOf('--by', ['task', 'model'] as const, 'grouping')('week')).message).toBe('--by "week" is not a known grouping; use one of: task, model');
  });
});

describe('the CLI table', () => {
  it('right-aligns numbers, money and percentages, left-aligns text, shows - for empty cells, and draws no box', () => {
    const out = table(['task', 'attempts', 'cost', 'share', 'note'], [
      ['classify-ticket', 12, '$0.001200', '50.00%', null],
      ['x', 1_234, '$12.50', '5.00%', 'held'],
    ]);
    expect(out.split('\n')).toEqual([
      'TASK             ATTEMPTS       COST   SHARE  NOTE',
      'classify-ticket        12  $0.001200  50.00%  -',
      'x                    1234     $12.50   5.00%  held',
    ]);
  });
});

describe('connection problems', () => {
  const urls = { databaseUrl: 'postgresql://fleet:s3cret@db.internal:6543/fleet?schema=prod', redisUrl: 'redis://:r3dis@cache.internal:6380' };

  it('never prints a password', () => {
    expect(redactUrl(urls.databaseUrl)).toBe('postgresql://fleet:[redacted]@db.internal:6543/fleet?schema=prod');
    expect(redactUrl('postgresql://u@h/d?password=pw')).toBe('postgresql://u@h/d?password=[redacted]');
    expect(endpointOf('redis://127.0.0.1')).toBe('127.0.0.1:6379');
    expect(endpointOf('postgresql://u@db/x')).toBe('db:5432');
  });

  it("recognises Prisma's pg adapter errors", () => {
    const prisma = (cause: object) => Object.assign(new Error('\nInvalid `prisma.$queryRawUnsafe()` invocation:\n\n\nRaw query failed.'), { code: 'P2010', meta: { driverAdapterError: { name: 'DriverAdapterError', cause } } });
    const missingDb = classifyConnectionError(prisma({ originalCode: '3D000', kind: 'DatabaseDoesNotExist', db: 'fleet' }), urls);
    expect(missingDb).toBeInstanceOf(DatabaseNotMigratedError);
    expect(missingDb!.message).toBe(
      'database "fleet" (schema "prod") does not exist; run `npx prisma migrate deploy` to create it and its tables (DATABASE_URL=postgresql://fleet:[redacted]@db.internal:6543/fleet?schema=prod)',
    );
    const noTable = classifyConnectionError(prisma({ originalCode: '42P01', kind: 'TableDoesNotExist', table: 'batches' }), urls);
    expect(noTable!.message).toBe(
      'database "fleet" (schema "prod") has no batchfleet tables (missing: batches); run `npx prisma migrate deploy` (DATABASE_URL=postgresql://fleet:[redacted]@db.internal:6543/fleet?schema=prod)',
    );
    const down = classifyConnectionError(prisma({ kind: 'DatabaseNotReachable', host: 'db.internal', port: 6543 }), urls);
    expect(down).toBeInstanceOf(DatabaseUnreachableError);
    expect(down!.message).toBe('cannot reach PostgreSQL at db.internal:6543 (DATABASE_URL); is it running?');
    expect(classifyConnectionError(prisma({ kind: 'AuthenticationFailed', user: 'fleet' }), urls)).toBeInstanceOf(DatabaseAccessError);
    expect(classifyConnectionError(prisma({ kind: 'UniqueConstraintViolation' }), urls)).toBeUndefined();
  });

  it('tells PostgreSQL from Redis socket errors by the address they name, or by the side the caller knows', () => {
    const refused = (port: number) => Object.assign(new Error(`connect ECONNREFUSED 10.0.0.1:${port}`), { code: 'ECONNREFUSED', syscall: 'connect', address: '10.0.0.1', port });
    expect(classifyConnectionError(refused(6543), urls)!.message).toBe('cannot reach PostgreSQL at db.internal:6543 (DATABASE_URL): connection refused; is it running?');
    expect(classifyConnectionError(refused(6380), urls)!.message).toBe('cannot reach Redis at cache.internal:6380 (REDIS_URL): connection refused; is it running?');
    expect(classifyConnectionError(refused(1), urls)).toBeUndefined();
    const lookup = Object.assign(new Error('getaddrinfo ENOTFOUND cache.internal'), { code: 'ENOTFOUND', syscall: 'getaddrinfo', hostname: 'cache.internal' });
    expect(classifyConnectionError(lookup, urls)).toBeInstanceOf(RedisUnreachableError);
    expect(classifyConnectionError(lookup, urls)!.message).toBe('cannot reach Redis at cache.internal:6380 (REDIS_URL): host not found; check the host in REDIS_URL');
    const aggregate = Object.assign(new AggregateError([refused(6543)], ''), { code: 'ECONNREFUSED' });
    expect(classifyConnectionError(aggregate, urls, 'database')).toBeInstanceOf(DatabaseUnreachableError);
    expect(classifyConnectionError(new Error('WRONGPASS invalid username-password pair'), urls)).toBeInstanceOf(RedisAccessError);
    expect(classifyConnectionError(new Error('something else'), urls)).toBeUndefined();
  });

  it('prints a configuration error as one line', () => {
    expect(singleLine('invalid configuration:\n  POLL_MIN_MS: must be at least 1 (ms)\n  DATABASE_URL: Invalid URL')).toBe(
      'invalid configuration: POLL_MIN_MS: must be at least 1 (ms); DATABASE_URL: Invalid URL',
    );
    expect(singleLine('\nInvalid `prisma.$queryRawUnsafe()` invocation:\n\n\nRaw query failed. Code: `23505`.')).toBe('Invalid `prisma.$queryRawUnsafe()` invocation: Raw query failed. Code: `23505`.');
  });
});

describe('demo options', () => {
  it('keeps the demo in its own schema and Redis prefix unless --main', () => {
    expect(parseDemoArgs([])).toMatchObject({ items: 1000, scenario: 'happy', schema: DEMO_SCHEMA, prefix: DEMO_PREFIX, help: false });
    expect(DEMO_SCHEMA).toBe('batchfleet_demo');
    expect(DEMO_PREFIX).toBe('batchfleet-demo');
    expect(parseDemoArgs(['--schema', 'mine', '--prefix', 'p1'])).toMatchObject({ schema: 'mine', prefix: 'p1' });
    expect(parseDemoArgs(['--main'])).toMatchObject({ schema: undefined, prefix: undefined });
    expect(withSchema('postgresql://u:p@h:5432/db?schema=public', DEMO_SCHEMA)).toBe('postgresql://u:p@h:5432/db?schema=batchfleet_demo');
  });

  it('refuses bad values with one line (ConfigError: exit 2 from workers/demo.ts)', () => {
    const refused = (argv: string[]) => {
      try {
        parseDemoArgs(argv);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
      throw new Error('expected a refusal');
    };
    expect(refused(['--items', 'x'])).toBe('--items "x" is not a positive whole number; use e.g. --items 100');
    expect(refused(['--timeout-sec', 'soon'])).toBe('--timeout-sec "soon" is not a positive number of seconds; use e.g. --timeout-sec 600');
    expect(refused(['--seed', '1.5'])).toBe('--seed "1.5" is not a whole number; use e.g. --seed 100');
    expect(refused(['--scenario', 'nope'])).toMatch(/^--scenario "nope" is not a scenario; use one of: happy, /);
    expect(refused(['--schema', 'a;drop'])).toMatch(/^--schema "a;drop" is not a plain PostgreSQL name/);
    expect(refused(['--frob'])).toBe("Unknown option '--frob'; see `npm run demo -- --help`");
  });
});
