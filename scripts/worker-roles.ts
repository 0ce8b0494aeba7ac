/**
 * The worker roles as the shipped Kubernetes base starts them (deploy/k8s/base/workers.yaml):
 * each Deployment's `role` label and its container's args (node flags, then the script). The
 * one reader of that file for `check:deploy` (compose must start each role the same way) and
 * for the bench (the file bench starts the process role with the same node flags).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

const WORKERS = join(import.meta.dirname, '..', 'deploy', 'k8s', 'base', 'workers.yaml');

/** Each worker role's container args, by its `role` label. */
export function workerRoleArgs(): Map<string, unknown[]> {
  const out = new Map<string, unknown[]>();
  for (const doc of parseAllDocuments(readFileSync(WORKERS, 'utf8'))) {
    const o = doc.toJS() as { kind?: string; metadata?: { labels?: Record<string, string> }; spec?: any } | null;
    const role = o?.kind === 'Deployment' ? o.metadata?.labels?.role : undefined;
    const args: unknown = o?.spec?.template?.spec?.containers?.[0]?.args;
    if (role && Array.isArray(args)) out.set(role, args);
  }
  return out;
}

/** The node flags a role's container passes before its script. */
export function workerNodeFlags(role: string): string[] {
  const args = workerRoleArgs().get(role);
  if (!args) throw new Error(`no ${role} Deployment with container args in deploy/k8s/base/workers.yaml`);
  const script = args.findIndex((a) => typeof a === 'string' && !a.startsWith('-'));
  return args.slice(0, script < 0 ? args.length : script).map(String);
}
