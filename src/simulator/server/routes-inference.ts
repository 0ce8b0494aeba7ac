/**
 * Synchronous `/v1/chat/completions` and `/v1/embeddings`, answered by the same executor as batch
 * lines (so sync and batch outputs agree), without per-line faults; control-plane faults apply.
 */
import { ApiError, invalidValue, missingParam } from '../errors.ts';
import { executeRequest } from '../line-executor.ts';
import type { SimContext } from './context.ts';
import { readJson, type Reply, type RequestContext, type Route } from './http.ts';

function run(endpoint: '/v1/chat/completions' | '/v1/embeddings') {
  return async (sim: SimContext, rc: RequestContext): Promise<Reply> => {
    const body = await readJson(rc.req);
    if (typeof body.model !== 'string' || body.model === '') throw missingParam('model');
    if (body.stream === true) {
      throw invalidValue('stream', 'The batchfleet simulator does not support streaming responses.');
    }
    const result = executeRequest(endpoint, body, 'none', {
      seed: sim.scenario.seed,
      counter: sim.counter,
      cachedPromptFraction: sim.scenario.usage.cachedPromptFraction,
      createdAt: sim.clock.nowSeconds(),
      idKey: `sync|${rc.clientId}|${sim.syncCounter.n++}`,
    });
    if (result.statusCode !== 200) {
      const e = (result.body as { error: { message: string; type: string; param: string | null; code: string | null } }).error;
      throw new ApiError(result.statusCode, e.message, e.type, e.param, e.code);
    }
    return { json: result.body };
  };
}

/** The synchronous inference routes. */
export const inferenceRoutes: Route[] = [
  { method: 'POST', path: '/v1/chat/completions', handler: run('/v1/chat/completions') },
  { method: 'POST', path: '/v1/embeddings', handler: run('/v1/embeddings') },
];
