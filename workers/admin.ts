import { runAdmin } from '../src/admin/index.ts';
import { runEntry } from '../src/runtime/entry.ts';

/** The admin server: Bull Board, /metrics, /healthz, /readyz, the webhook receiver, alerts. */
await runEntry(() => runAdmin());
