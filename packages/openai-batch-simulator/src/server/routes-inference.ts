/**
 * The synchronous endpoints (chat completions, responses, embeddings, completions, moderations),
 * answered by the same executor as batch lines (so sync and batch outputs agree), without
 * per-line faults; control-plane faults apply.
 */
import { ApiError, invalidValue, missingParam } from '../errors.ts';
import { EXECUTABLE_ENDPOINTS, executeRequest } from '../line-executor.ts';
import type { SimContext } from './context.ts';
import { readJson, type Reply, type RequestContext, type Route } from './http.ts';

function run(endpoint: (typeof EXECUTABLE_ENDPOINTS)[number]) {
  return async (sim: SimContext, rc: RequestContext): Promise<Reply> => {
    const body = await readJson(rc.req);
    if (typeof body.model !== 'string' || body.model === '') throw missingParam('model');
    if (body.stream === true) {
      throw invalidValue('stream', 'The openai-batch-simulator does not support streaming responses.');
    }
    const result = executeRequest(endpoint, body, 'none', {
      seed: sim.scenario.seed,
      counter: sim.counter,
      cachedPromptFraction: sim.scenario.usage.cachedPromptFraction,
      reasoningShare: sim.scenario.usage.reasoningShare,
      createdAt: sim.clock.wallSeconds(),
      idKey: `sync|${rc.clientId}|${sim.syncCounter.n++}`,
      cache: sim.promptCache ? { store: sim.promptCache, organization: rc.organization, atMs: sim.clock.now() } : null,
      instant: sim.scenario.execution === 'instant',
    });
    if (result.statusCode !== 200) {
      const e = (result.body as { error: { message: string; type: string; param: string | null; code: string | null } }).error;
      throw new ApiError(result.statusCode, e.message, e.type, e.param, e.code);
    }
    return { json: result.body };
  };
}

/** The synchronous inference routes. */
export const inferenceRoutes: Route[] = EXECUTABLE_ENDPOINTS.map((endpoint) => ({ method: 'POST', path: endpoint, handler: run(endpoint) }));
