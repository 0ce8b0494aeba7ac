/** `/v1/files`: upload (multipart, streamed to disk), list, retrieve, content, delete. */
import { fileNotFound, invalidValue, missingParam, serverError } from '../errors.ts';
import { decideFileFaults, decideLostCreate } from '../faults.ts';
import { DEFAULT_BATCH_FILE_TTL_SECONDS, FileStore, UPLOAD_PURPOSES, type FileRecord } from '../file-store.ts';
import type { SimContext } from './context.ts';
import type { Reply, RequestContext, Route } from './http.ts';
import { readMultipart } from './multipart.ts';
import { expiresAfter, intParam } from './params.ts';

/** The file if this client may see it now (404 otherwise, including the just-uploaded window). */
export function visibleFile(sim: SimContext, rc: RequestContext, id: string, param: string | null = 'id'): FileRecord {
  const rec = sim.files.get(rc.clientId, id, sim.clock.wallSeconds());
  if (!rec) throw fileNotFound(id, param);
  if (rec.hiddenUntilMs > sim.clock.now()) {
    sim.stats.fault(rc.clientId, 'file_not_found_after_upload_hit');
    throw fileNotFound(id, param);
  }
  return rec;
}

/** Apply the lost-response fault to a create that already happened. */
export function loseCreateResponse(sim: SimContext, rc: RequestContext): Reply | null {
  if (!decideLostCreate(sim.scenario, sim.createCounter.n++)) return null;
  sim.stats.fault(rc.clientId, 'lost_create_response');
  if (sim.scenario.httpFaults.lostCreateMode === '500') throw serverError();
  rc.req.socket.destroy();
  return { handled: true };
}

async function upload(sim: SimContext, rc: RequestContext): Promise<Reply> {
  const { fields, file, blob } = await readMultipart(rc.req, () => sim.files.openBlob(), sim.scenario.limits.maxUploadBytes);
  let bytes: number;
  let expiresSeconds: number | null = null;
  try {
    if (!blob || !file) throw missingParam('file');
    const purpose = fields.purpose;
    if (!purpose) throw missingParam('purpose');
    if (!(UPLOAD_PURPOSES as readonly string[]).includes(purpose)) {
      throw invalidValue(
        'purpose',
        `Invalid value for 'purpose': '${purpose}'. Supported values are: ${UPLOAD_PURPOSES.map((p) => `'${p}'`).join(', ')}.`,
      );
    }
    const anchor = fields['expires_after[anchor]'] ?? fields['expires_after.anchor'];
    const secs = fields['expires_after[seconds]'] ?? fields['expires_after.seconds'];
    if (anchor !== undefined || secs !== undefined) expiresSeconds = expiresAfter('expires_after', anchor, secs);
    bytes = await blob.finish();
  } catch (err) {
    if (blob) await blob.abort();
    throw err;
  }
  const purpose = fields.purpose as string;
  const nowMs = sim.clock.now();
  const createdAt = sim.clock.wallSeconds();
  const ttl = expiresSeconds ?? (purpose === 'batch' ? DEFAULT_BATCH_FILE_TTL_SECONDS : null);
  const faults = decideFileFaults(sim.scenario, sim.uploadCounter.n++);
  if (faults.hiddenForSeconds > 0) sim.stats.fault(rc.clientId, 'file_not_found_after_upload');
  const rec = sim.files.add({
    clientId: rc.clientId,
    bytes,
    createdAt,
    createdAtMs: nowMs,
    filename: file.filename,
    purpose,
    expiresAt: ttl === null ? null : createdAt + ttl,
    path: blob.path,
    hiddenUntilMs: nowMs + faults.hiddenForSeconds * 1000,
  });
  sim.stats.fileCreated(rc.clientId);
  return loseCreateResponse(sim, rc) ?? { json: FileStore.toWire(rec) };
}

async function list(sim: SimContext, rc: RequestContext): Promise<Reply> {
  const limit = intParam(rc.query, 'limit', 1, 10_000, 10_000);
  const order = rc.query.get('order') ?? 'desc';
  if (order !== 'asc' && order !== 'desc') {
    throw invalidValue('order', `Invalid value for 'order': '${order}'. Supported values are: 'asc' and 'desc'.`);
  }
  const all = sim.files.list(rc.clientId, sim.clock.wallSeconds(), sim.clock.now(), {
    purpose: rc.query.get('purpose') ?? undefined,
    order,
    after: rc.query.get('after') ?? undefined,
  });
  const page = all.slice(0, limit);
  return {
    json: {
      object: 'list',
      data: page.map(FileStore.toWire),
      first_id: page[0]?.id ?? null,
      last_id: page[page.length - 1]?.id ?? null,
      has_more: all.length > page.length,
    },
  };
}

async function retrieve(sim: SimContext, rc: RequestContext): Promise<Reply> {
  return { json: FileStore.toWire(visibleFile(sim, rc, rc.params.id ?? '')) };
}

async function content(sim: SimContext, rc: RequestContext): Promise<Reply> {
  const rec = visibleFile(sim, rc, rc.params.id ?? '');
  return { stream: sim.files.read(rec), headers: { 'content-length': String(rec.bytes) } };
}

async function remove(sim: SimContext, rc: RequestContext): Promise<Reply> {
  const rec = visibleFile(sim, rc, rc.params.id ?? '');
  await sim.files.delete(rec);
  sim.stats.fileDeleted(rc.clientId);
  return { json: { id: rec.id, object: 'file', deleted: true } };
}

/** The file routes. */
export const fileRoutes: Route[] = [
  { method: 'POST', path: '/v1/files', handler: upload },
  { method: 'GET', path: '/v1/files', handler: list },
  { method: 'GET', path: '/v1/files/:id', handler: retrieve },
  { method: 'GET', path: '/v1/files/:id/content', handler: content },
  { method: 'DELETE', path: '/v1/files/:id', handler: remove },
];
