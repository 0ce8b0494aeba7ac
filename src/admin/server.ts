import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { bodyLimit } from 'hono/body-limit';
import { authThrottle } from './auth-throttle.ts';
import { HTTPException } from 'hono/http-exception';
import type { PipelineContext } from '../pipeline/context.ts';
import { mountBoard, BOARD_PATH } from './board.ts';
import { mountHealth } from './health.ts';
import { createMetricsCollector, type MetricsCollector } from './metrics.ts';
import { openAIWebhookHandler, WEBHOOK_MAX_BYTES } from './webhooks.ts';

export const WEBHOOK_PATH = '/webhooks/openai';

/** Options of {@link startAdminServer}; each defaults to the context's configuration. */
export interface AdminServerOptions {
  /** 0 = a free port. @defaultValue ADMIN_PORT (3000) */
  port?: number;
  /** @defaultValue ADMIN_HOST (127.0.0.1) */
  host?: string;
  /** Bearer token `/metrics` requires; null for none. @defaultValue METRICS_TOKEN */
  metricsToken?: string | null;
  /** Bull Board basic-auth user. @defaultValue ADMIN_USER */
  user?: string;
  /** Bull Board basic-auth password; without one (or with null) the board is disabled. @defaultValue ADMIN_PASSWORD */
  password?: string | null;
  /** Read-only board. @defaultValue ADMIN_READ_ONLY */
  readOnly?: boolean;
  /** Enables `POST /webhooks/openai`. @defaultValue OPENAI_WEBHOOK_SECRET */
  webhookSecret?: string;
  /** Environment badge on the board (e.g. "production"). */
  environment?: string;
}

export interface AdminServer {
  /** Base URL, e.g. `http://127.0.0.1:3000`. */
  url: string;
  port: number;
  app: Hono;
  metrics: MetricsCollector;
  close(): Promise<void>;
}

/** The admin HTTP app: Bull Board, /metrics, /healthz, /readyz and the OpenAI webhook receiver. */
export function createAdminApp(ctx: PipelineContext, options: AdminServerOptions = {}): { app: Hono; metrics: MetricsCollector } {
  const admin = ctx.config.admin;
  const app = new Hono();
  const metrics = createMetricsCollector(ctx);

  mountHealth(app, ctx);
  const metricsToken = options.metricsToken === null ? undefined : (options.metricsToken ?? admin.metricsToken);
  if (metricsToken) app.use('/metrics', authThrottle(), bearerAuth({ token: metricsToken }));
  app.get('/metrics', async (c) => c.body(await metrics.render(), 200, { 'content-type': metrics.contentType }));
  mountBoard(app, ctx, {
    user: options.user ?? admin.user,
    password: options.password === null ? undefined : (options.password ?? admin.password),
    readOnly: options.readOnly ?? admin.readOnly,
    environment: options.environment,
  });

  const secret = options.webhookSecret ?? ctx.config.webhookSecret;
  if (secret) {
    const limit = bodyLimit({
      maxSize: WEBHOOK_MAX_BYTES,
      onError: (c) => {
        metrics.webhookEvents.inc({ outcome: 'too_large' });
        return c.json({ error: `webhook body larger than ${WEBHOOK_MAX_BYTES} bytes` }, 413);
      },
    });
    app.post(WEBHOOK_PATH, limit, openAIWebhookHandler(ctx, secret, metrics.webhookEvents));
  } else {
    ctx.log.info({ path: WEBHOOK_PATH }, 'webhook receiver disabled: OPENAI_WEBHOOK_SECRET is not set (polling alone drives batches)');
    app.post(WEBHOOK_PATH, (c) => c.json({ error: 'webhook receiver disabled: OPENAI_WEBHOOK_SECRET is not set' }, 404));
  }
  app.get('/', (c) => c.json({ service: 'batchfleet-admin', endpoints: [BOARD_PATH, '/metrics', '/healthz', '/readyz', WEBHOOK_PATH] }));
  app.onError((err, c) => {
    if (err instanceof HTTPException) return err.getResponse();
    ctx.log.error({ err, path: c.req.path }, 'admin request failed');
    return c.json({ error: 'internal error' }, 500);
  });
  return { app, metrics };
}

/** Starts the admin server; resolves once it listens. */
export async function startAdminServer(ctx: PipelineContext, options: AdminServerOptions = {}): Promise<AdminServer> {
  const { app, metrics } = createAdminApp(ctx, options);
  const host = options.host ?? ctx.config.admin.host;
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: options.port ?? ctx.config.admin.port, hostname: host }, () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const url = `http://${urlHost}:${port}`;
  ctx.log.info({ url }, 'admin server listening');
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    app,
    metrics,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        if ('closeAllConnections' in server) server.closeAllConnections();
      });
      return closing;
    },
  };
}
