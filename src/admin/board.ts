/*
 * Bull Board at `/admin/queues` over every pipeline and results queue. Bull Board has no auth of
 * its own and "dashboard access is Redis access", so it is only mounted behind HTTP basic auth:
 * without ADMIN_PASSWORD the path answers 503 and says why, it is never served open. With
 * ADMIN_READ_ONLY every queue adapter is read-only (write endpoints answer 405, buttons hidden).
 * More than 10 failed logins from one address within a minute get 429 until the minute is over.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import { serveStatic } from '@hono/node-server/serve-static';
import type { Hono } from 'hono';
import { basicAuth } from 'hono/basic-auth';
import type { PipelineContext } from '../pipeline/context.ts';
import { authThrottle } from './auth-throttle.ts';

export const BOARD_PATH = '/admin/queues';

export interface BoardOptions {
  user: string;
  /** Without a password the board is disabled. */
  password: string | undefined;
  readOnly: boolean;
  /** Shown as the board's environment badge, e.g. "production". */
  environment?: string;
}

/** Mounts the board (or its "disabled" answer) on `app`; returns whether it is enabled. */
export function mountBoard(app: Hono, ctx: PipelineContext, options: BoardOptions): boolean {
  if (!options.password) {
    ctx.log.warn({ path: BOARD_PATH }, 'Bull Board disabled: set ADMIN_PASSWORD (and ADMIN_USER) to enable it behind basic auth');
    const disabled = () => new Response('Bull Board is disabled: ADMIN_PASSWORD is not set\n', { status: 503, headers: { 'content-type': 'text/plain' } });
    app.all(BOARD_PATH, disabled);
    app.all(`${BOARD_PATH}/*`, disabled);
    return false;
  }
  for (const task of ctx.registry.names()) ctx.queues.resultsFor(task);
  const adapter = new HonoAdapter(serveStatic);
  adapter.setBasePath(BOARD_PATH);
  createBullBoard({
    queues: ctx.queues.all().map((q) => new BullMQAdapter(q, { readOnlyMode: options.readOnly, allowRetries: !options.readOnly })),
    // @bull-board/hono 9.10.1 carries its own @bull-board/api 9.10.1 typings; the runtime objects are the same shape.
    serverAdapter: adapter as unknown as Parameters<typeof createBullBoard>[0]['serverAdapter'],
    options: {
      uiConfig: {
        boardTitle: 'batchfleet',
        pollingInterval: { forceInterval: 10_000 },
        ...(options.environment ? { environment: { label: options.environment, color: '#cc0000' } } : {}),
      },
    },
  });
  const auth = basicAuth({ username: options.user, password: options.password, realm: 'batchfleet admin' });
  const throttle = authThrottle();
  app.use(`${BOARD_PATH}/*`, throttle); // hono's `/x/*` also matches `/x`: once is enough, or each failure counts twice
  app.use(BOARD_PATH, auth);
  app.use(`${BOARD_PATH}/*`, auth);
  app.route(BOARD_PATH, adapter.registerPlugin());
  ctx.log.info({ path: BOARD_PATH, user: options.user, readOnly: options.readOnly }, 'Bull Board enabled behind basic auth');
  return true;
}
