import { runAdmin } from '../src/admin/index.ts';

/** The admin server: Bull Board, /metrics, /healthz, /readyz, the webhook receiver, alerts. */
await runAdmin();
