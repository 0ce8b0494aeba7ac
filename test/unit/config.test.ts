import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';

function problem(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
}

describe('configuration cross-field checks', () => {
  it('accepts the defaults and names the new settings', () => {
    const c = loadConfig({});
    expect(c.admin.host).toBe('127.0.0.1');
    expect(c.metrics).toEqual({ port: 9464, host: '127.0.0.1', token: undefined });
  });

  it.each([
    [{ POLL_MIN_MS: '100000', POLL_MAX_MS: '10' }, 'POLL_MIN_MS (100000) must not exceed POLL_MAX_MS (10)'],
    [{ POLL_MIN_MS: '0' }, 'POLL_MIN_MS: must be at least 1 (ms)'],
    [{ STUCK_AFTER_MS: '30000', POLL_MAX_MS: '60000' }, 'STUCK_AFTER_MS (30000) must exceed POLL_MAX_MS (60000)'],
    [{ CONCURRENCY_POLL: '0' }, 'CONCURRENCY_POLL: must be at least 1'],
    [{ BUILD_MIN_ITEMS: '0' }, 'BUILD_MIN_ITEMS: must be at least 1'],
    [{ MAX_IN_FLIGHT_PER_MODEL: '0' }, 'MAX_IN_FLIGHT_PER_TASK and MAX_IN_FLIGHT_PER_MODEL: must be at least 1'],
    [{ ALERT_SPEND_USD: '20', DAILY_SPEND_CAP_USD: '10' }, 'ALERT_SPEND_USD (20) must not exceed DAILY_SPEND_CAP_USD (10)'],
    [{ METRICS_PORT: '3000' }, 'METRICS_PORT and ADMIN_PORT must differ (both 3000)'],
    [{ ADMIN_READ_ONLY: 'true' }, 'ADMIN_READ_ONLY is set but ADMIN_PASSWORD is not'],
    [{ METRICS_TOKEN: 'short' }, 'METRICS_TOKEN: must be at least 16 characters'],
  ])('%j', (env, message) => {
    expect(problem(env)).toContain(message);
  });

  it('reports every contradiction at once', () => {
    const message = problem({ POLL_MIN_MS: '100000', POLL_MAX_MS: '10', CONCURRENCY_BUILD: '0' });
    expect(message).toContain('POLL_MIN_MS (100000)');
    expect(message).toContain('CONCURRENCY_BUILD');
  });
});
