/*
 * Each worker process's own `/metrics` and `/healthz` (on METRICS_PORT), so the provider calls, poll
 * latency, token estimates and rejected jobs every process counts for itself can be scraped, and
 * Kubernetes can probe every role. The series are this process's only (provider-metrics.ts,
 * process-metrics.ts) plus prom-client's default `process_*` and `nodejs_*` metrics; the fleet-wide
 * series read from PostgreSQL, Redis and BullMQ stay on the admin server.
 */
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { collectDefaultMetrics } from 'prom-client';
import type { Logger } from 'pino';
import { processRegistry } from './provider-metrics.ts';
import './process-metrics.ts';

let defaultsCollected = false;

/** Adds prom-client's default process and Node.js metrics to this process's registry (once). */
export function collectProcessDefaults(): void {
  if (defaultsCollected) return;
  defaultsCollected = true;
  collectDefaultMetrics({ register: processRegistry });
}

/** Options of {@link startProcessServer}. */
export interface ProcessServerOptions {
  /** 0 = a free port. */
  port: number;
  host: string;
  /** When set, `/metrics` requires `Authorization: Bearer <token>`. */
  token?: string;
  /** Roles this process runs, reported by `/healthz`. */
  roles: readonly string[];
  /** False while the process is shutting down: `/healthz` then answers 503. */
  healthy?: () => boolean;
  log?: Logger;
}

export interface ProcessServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Starts the process's metrics and health server; resolves once it listens. */
export async function startProcessServer(options: ProcessServerOptions): Promise<ProcessServer> {
  collectProcessDefaults();
  const app = new Hono();
  app.get('/healthz', (c) => {
    const ok = options.healthy?.() ?? true;
    return c.json({ status: ok ? 'ok' : 'stopping', roles: options.roles }, ok ? 200 : 503);
  });
  if (options.token) app.use('/metrics', bearerAuth({ token: options.token }));
  app.get('/metrics', async (c) => c.body(await processRegistry.metrics(), 200, { 'content-type': processRegistry.contentType }));
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: options.port, hostname: options.host }, () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host.includes(':') ? `[${options.host}]` : options.host;
  const url = `http://${host}:${port}`;
  options.log?.info({ url, roles: options.roles }, 'metrics server listening');
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        if ('closeAllConnections' in server) server.closeAllConnections();
      });
      return closing;
    },
  };
}
