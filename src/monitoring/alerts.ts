/*
 * Alerts: a rule evaluator over PostgreSQL (failure rate per task over the last window, spend
 * per UTC day, stuck batches) and a notifier that writes each alert as a warn log line
 * (`{ alert: … }`) and, when ALERT_WEBHOOK_URL is set, POSTs it as JSON. The notifier
 * de-duplicates: an alert with the same key is emitted at most once per `dedupMs`, so a
 * condition that lasts produces one line (and one POST) per window, not one per evaluation.
 * A webhook that fails or hangs is logged and never throws: alerting must not break the caller.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { Db } from '../store/db.ts';
import { failuresSince, spendSince, startOfUtcDay, stuckBatches } from '../store/read-models/index.ts';

export type AlertKind = 'failure_rate' | 'daily_spend' | 'stuck_batch';

export interface Alert {
  kind: AlertKind;
  /** De-duplication key: the same key within `dedupMs` is emitted once. */
  key: string;
  severity: 'warning' | 'critical';
  message: string;
  /** When the alert was raised (ISO 8601). */
  at: string;
  details: Record<string, unknown>;
}

/** Thresholds of the alert rules. */
export interface AlertRules {
  /** Failure-rate window (ms). @defaultValue 900000 (15 min) */
  windowMs: number;
  /** Alert when failures / attempts of a task in the window reach this (0-1, ALERT_FAILURE_RATE). @defaultValue 0.2 */
  failureRate: number;
  /** Fewer attempts than this in the window never raise a failure-rate alert. @defaultValue 20 */
  minAttempts: number;
  /** Alert when today's (UTC) spend reaches this many USD (ALERT_SPEND_USD); undefined disables. */
  spendUsd: number | undefined;
  /** A batch whose status has not changed for this long is stuck (STUCK_AFTER_MS). @defaultValue 2 h */
  stuckAfterMs: number;
  /** At most this many stuck-batch alerts per evaluation (the last one says how many more). @defaultValue 20 */
  maxStuckAlerts: number;
}

export const DEFAULT_ALERT_WINDOW_MS = 15 * 60_000;
export const DEFAULT_DEDUP_MS = 60 * 60_000;

/** Alert rules from the configuration, with optional overrides. */
export function alertRulesFrom(config: Config, overrides: Partial<AlertRules> = {}): AlertRules {
  return {
    windowMs: DEFAULT_ALERT_WINDOW_MS,
    failureRate: config.alerts.failureRate,
    minAttempts: 20,
    spendUsd: config.alerts.spendUsd,
    stuckAfterMs: config.stuckAfterMs,
    maxStuckAlerts: 20,
    ...overrides,
  };
}

const minutes = (ms: number): number => Math.round(ms / 60_000);

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Evaluates every rule once and returns the alerts that fire now (not de-duplicated). */
export async function evaluateAlerts(db: Db, rules: AlertRules, now: Date = new Date()): Promise<Alert[]> {
  const at = now.toISOString();
  const alerts: Alert[] = [];

  const window = await failuresSince(db, new Date(now.getTime() - rules.windowMs));
  for (const [task, t] of [...window.attemptsByTask.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    if (t.attempts < rules.minAttempts || t.attempts === 0) continue;
    const rate = t.failures / t.attempts;
    if (rate < rules.failureRate) continue;
    const causes = window.rows.filter((r) => r.task === task).slice(0, 5).map((r) => ({ cause: r.cause, failures: r.failures }));
    alerts.push({
      kind: 'failure_rate',
      key: `failure_rate:${task}`,
      severity: 'warning',
      message: `task ${task}: ${(rate * 100).toFixed(1)}% of ${t.attempts} attempts failed in the last ${minutes(rules.windowMs)} min (threshold ${(rules.failureRate * 100).toFixed(1)}%)`,
      at,
      details: { task, model: t.model, attempts: t.attempts, failures: t.failures, rate: Number(rate.toFixed(4)), threshold: rules.failureRate, windowMs: rules.windowMs, topCauses: causes },
    });
  }

  if (rules.spendUsd !== undefined) {
    const day = startOfUtcDay(now);
    const spent = await spendSince(db, day);
    if (spent >= rules.spendUsd) {
      const date = day.toISOString().slice(0, 10);
      alerts.push({
        kind: 'daily_spend',
        key: `daily_spend:${date}`,
        severity: 'critical',
        message: `spend today (${date} UTC) is $${spent.toFixed(4)}, at or above the $${rules.spendUsd} alert threshold`,
        at,
        details: { date, spentUsd: spent, thresholdUsd: rules.spendUsd },
      });
    }
  }

  const stuck = await stuckBatches(db, rules.stuckAfterMs, now);
  for (const [i, b] of stuck.slice(0, rules.maxStuckAlerts).entries()) {
    const more = i === rules.maxStuckAlerts - 1 && stuck.length > rules.maxStuckAlerts ? stuck.length - rules.maxStuckAlerts : 0;
    alerts.push({
      kind: 'stuck_batch',
      key: `stuck_batch:${b.id}:${b.status}`,
      severity: 'warning',
      message: `batch ${b.id} (${b.task}, ${b.providerBatchId ?? 'not submitted'}) has been ${b.status} for ${minutes(b.inStatusMs)} min${more ? ` (and ${more} more stuck batches)` : ''}`,
      at,
      details: { batchId: b.id, task: b.task, model: b.model, status: b.status, providerBatchId: b.providerBatchId, inStatusMs: b.inStatusMs, stuckAfterMs: rules.stuckAfterMs, ...(more ? { moreStuck: more } : {}) },
    });
  }
  return alerts;
}

export interface NotifierOptions {
  log: Logger;
  /** Where to POST each alert as JSON (ALERT_WEBHOOK_URL). */
  webhookUrl?: string;
  /** Same key within this window is emitted once. @defaultValue 3600000 (1 h) */
  dedupMs?: number;
  /** Webhook request timeout. @defaultValue 5000 */
  timeoutMs?: number;
  /**
   * Share de-duplication between processes (several admin replicas) through Redis: a key is
   * emitted by whichever process sets `<prefix>:alerts:<key>` first (SET NX PX dedupMs).
   * Without it (or when Redis fails) de-duplication is per process.
   */
  dedupRedis?: { redis: Redis; prefix: string };
  /** For tests. @defaultValue globalThis.fetch */
  fetch?: typeof fetch;
  /** For tests. @defaultValue Date.now */
  now?: () => number;
}

/** Emits alerts (log line + optional webhook), each key at most once per de-duplication window. */
export class AlertNotifier {
  private readonly lastSent = new Map<string, number>();
  private readonly dedupMs: number;
  private readonly timeoutMs: number;
  private readonly fetchFn: typeof fetch;
  private readonly now: () => number;

  constructor(private readonly options: NotifierOptions) {
    this.dedupMs = options.dedupMs ?? DEFAULT_DEDUP_MS;
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.fetchFn = options.fetch ?? globalThis.fetch;
    this.now = options.now ?? Date.now;
  }

  /** Emits the alerts not emitted within the window; returns them. Never throws. */
  async notify(alerts: readonly Alert[]): Promise<Alert[]> {
    const now = this.now();
    for (const [key, at] of this.lastSent) if (now - at >= this.dedupMs) this.lastSent.delete(key);
    const fresh: Alert[] = [];
    for (const alert of alerts) {
      if (this.lastSent.has(alert.key) || !(await this.claimShared(alert.key))) continue;
      this.lastSent.set(alert.key, now);
      fresh.push(alert);
      this.options.log.warn({ alert }, `alert: ${alert.message}`);
    }
    if (this.options.webhookUrl) await Promise.all(fresh.map((a) => this.post(a)));
    return fresh;
  }

  /** True unless another process emitted this key within the window. */
  private async claimShared(key: string): Promise<boolean> {
    const shared = this.options.dedupRedis;
    if (!shared) return true;
    try {
      const set = await withTimeout(shared.redis.set(`${shared.prefix}:alerts:${key}`, '1', 'PX', this.dedupMs, 'NX'), 2_000);
      return set === 'OK';
    } catch (err) {
      this.options.log.warn({ err: (err as Error).message }, 'alert de-duplication through Redis failed; de-duplicating in this process only');
      return true;
    }
  }

  private async post(alert: Alert): Promise<void> {
    const url = this.options.webhookUrl!;
    try {
      const res = await this.fetchFn(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'batchfleet-alerts' },
        body: JSON.stringify({ text: `[batchfleet] ${alert.message}`, ...alert }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      await res.body?.cancel().catch(() => undefined);
      if (!res.ok) this.options.log.warn({ alertKey: alert.key, status: res.status }, 'alert webhook answered with an error status');
    } catch (err) {
      this.options.log.warn({ alertKey: alert.key, err: (err as Error).message }, 'alert webhook failed');
    }
  }
}

export interface AlertMonitor {
  /** Evaluates and notifies once; returns the alerts emitted (after de-duplication). Never throws. */
  runOnce(): Promise<Alert[]>;
  stop(): void;
}

/**
 * Evaluates the rules every `everyMs` (default 60 s) and notifies. Runs never overlap; a failed
 * evaluation (database down) is logged and tried again next time.
 */
export function startAlertMonitor(
  deps: { db: Db; config: Config; log: Logger },
  options: { everyMs?: number; rules?: Partial<AlertRules>; notifier?: Partial<Omit<NotifierOptions, 'log'>>; now?: () => Date } = {},
): AlertMonitor {
  const rules = alertRulesFrom(deps.config, options.rules);
  const notifier = new AlertNotifier({ log: deps.log, webhookUrl: deps.config.alerts.webhookUrl, ...options.notifier });
  const clock = options.now ?? (() => new Date());
  let running: Promise<Alert[]> | undefined;
  const runOnce = (): Promise<Alert[]> => {
    running ??= (async () => {
      try {
        return await notifier.notify(await evaluateAlerts(deps.db, rules, clock()));
      } catch (err) {
        deps.log.warn({ err: (err as Error).message }, 'alert evaluation failed; it will run again');
        return [];
      } finally {
        running = undefined;
      }
    })();
    return running;
  };
  const timer = setInterval(() => void runOnce(), options.everyMs ?? 60_000);
  timer.unref();
  return { runOnce, stop: () => clearInterval(timer) };
}
