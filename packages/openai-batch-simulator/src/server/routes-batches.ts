/** `/v1/batches`: create, retrieve, list (newest first, `after`/`limit`/`has_more`), cancel. */
import { batchNotFound, invalidType, invalidValue, missingParam } from '../errors.ts';
import type { WireBatch } from '../batch-engine.ts';
import { EXECUTABLE_ENDPOINTS } from '../line-executor.ts';
import type { SimContext } from './context.ts';
import { readJson, type Reply, type RequestContext, type Route } from './http.ts';
import { expiresAfter, intParam, metadataParam } from './params.ts';
import { loseCreateResponse, visibleFile } from './routes-files.ts';

/** `CreateBatchRequest.endpoint` values of the 2026-08 spec (reference §1.3). */
export const SPEC_ENDPOINTS = [
  '/v1/responses',
  '/v1/chat/completions',
  '/v1/embeddings',
  '/v1/completions',
  '/v1/moderations',
  '/v1/images/generations',
  '/v1/images/edits',
  '/v1/videos',
] as const;

async function create(sim: SimContext, rc: RequestContext): Promise<Reply> {
  const body = await readJson(rc.req);
  const inputFileId = body.input_file_id;
  if (inputFileId === undefined || inputFileId === null) throw missingParam('input_file_id');
  if (typeof inputFileId !== 'string') throw invalidType('input_file_id', 'a string');
  const endpoint = body.endpoint;
  if (endpoint === undefined || endpoint === null) throw missingParam('endpoint');
  if (typeof endpoint !== 'string' || !(SPEC_ENDPOINTS as readonly string[]).includes(endpoint)) {
    throw invalidValue(
      'endpoint',
      `Invalid value: '${String(endpoint)}'. Supported values are: ${SPEC_ENDPOINTS.map((e) => `'${e}'`).join(', ')}.`,
    );
  }
  if (!(EXECUTABLE_ENDPOINTS as readonly string[]).includes(endpoint)) {
    throw invalidValue(
      'endpoint',
      `The openai-batch-simulator does not run '${endpoint}' batches; it runs ${EXECUTABLE_ENDPOINTS.map((e) => `'${e}'`).join(', ')}.`,
    );
  }
  const window = body.completion_window;
  if (window === undefined || window === null) throw missingParam('completion_window');
  if (window !== '24h') {
    throw invalidValue('completion_window', `Invalid value: '${String(window)}'. Supported values are: '24h'.`);
  }
  const metadata = metadataParam(body.metadata);
  let outputExpiresAfterSeconds: number | null = null;
  if (body.output_expires_after !== undefined && body.output_expires_after !== null) {
    const oea = body.output_expires_after;
    if (typeof oea !== 'object' || Array.isArray(oea)) throw invalidType('output_expires_after', 'an object');
    const o = oea as Record<string, unknown>;
    outputExpiresAfterSeconds = expiresAfter('output_expires_after', o.anchor, o.seconds);
  }
  const file = visibleFile(sim, rc, inputFileId, 'input_file_id');
  if (file.purpose !== 'batch') {
    throw invalidValue('input_file_id', `The input file ${inputFileId} must be uploaded with purpose 'batch' (it has purpose '${file.purpose}').`);
  }
  const batch = sim.engine.create({
    clientId: rc.clientId,
    organization: rc.organization,
    endpoint,
    inputFile: file,
    metadata,
    outputExpiresAfterSeconds,
  });
  return loseCreateResponse(sim, rc) ?? { json: batch };
}

function visibleBatch(sim: SimContext, rc: RequestContext): { batch: WireBatch; hidden: boolean } {
  const id = rc.params.id ?? '';
  const found = sim.engine.get(rc.clientId, id);
  if (!found) throw batchNotFound(id);
  if (found.hidden) {
    sim.stats.fault(rc.clientId, 'batch_not_found_after_create_hit');
    throw batchNotFound(id);
  }
  return found;
}

async function retrieve(sim: SimContext, rc: RequestContext): Promise<Reply> {
  return { json: visibleBatch(sim, rc).batch };
}

async function cancel(sim: SimContext, rc: RequestContext): Promise<Reply> {
  rc.req.resume();
  visibleBatch(sim, rc);
  const batch = sim.engine.cancel(rc.clientId, rc.params.id ?? '');
  if (!batch) throw batchNotFound(rc.params.id ?? '');
  return { json: batch };
}

async function list(sim: SimContext, rc: RequestContext): Promise<Reply> {
  const limit = intParam(rc.query, 'limit', 1, 100, 20);
  const after = rc.query.get('after');
  const all = sim.engine.list(rc.clientId);
  let start = 0;
  if (after) {
    const idx = all.findIndex((b) => b.id === after);
    start = idx === -1 ? all.length : idx + 1;
  }
  const page = all.slice(start, start + limit);
  return {
    json: {
      object: 'list',
      data: page,
      first_id: page[0]?.id ?? null,
      last_id: page[page.length - 1]?.id ?? null,
      has_more: start + page.length < all.length,
    },
  };
}

/** The batch routes. */
export const batchRoutes: Route[] = [
  { method: 'POST', path: '/v1/batches', handler: create },
  { method: 'GET', path: '/v1/batches', handler: list },
  { method: 'GET', path: '/v1/batches/:id', handler: retrieve },
  { method: 'POST', path: '/v1/batches/:id/cancel', handler: cancel },
];
