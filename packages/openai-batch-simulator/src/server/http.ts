/**
 * The HTTP layer: a node:http server with a small router, OpenAI-style auth (any Bearer key; the
 * key identifies its project, see ids.ts), the control-plane fault gate (429/500/503/slow, reference §1.8 and
 * peers.md §3) and OpenAI's error envelope. Request bodies and keys are never logged.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { ApiError, INVALID_JSON_BODY_MESSAGE, invalidUrl, overloaded, rateLimited, serverError, unauthorized } from '../errors.ts';
import { decideHttpFault } from '../faults.ts';
import { clientIdForKey, newHttpRequestId, organizationForKey } from '../ids.ts';
import type { SimContext } from './context.ts';

/** A matched request. */
export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  path: string;
  query: URLSearchParams;
  params: Record<string, string>;
  /** Id of the key's project (owner of files and batches); '' on unauthenticated routes. */
  clientId: string;
  organization: string;
}

/** What a handler returns. */
export type Reply =
  | { status?: number; json: unknown; headers?: Record<string, string> }
  | { status?: number; stream: Readable; headers?: Record<string, string> }
  /** The handler already dealt with the socket (e.g. reset it). */
  | { handled: true };

/** A route handler. */
export type Handler = (sim: SimContext, rc: RequestContext) => Promise<Reply>;

/** One route: `:name` segments become params. */
export interface Route {
  method: string;
  path: string;
  handler: Handler;
  /** Routes under /_simulator skip auth and faults. */
  open?: boolean;
}

interface CompiledRoute extends Route {
  regex: RegExp;
  names: string[];
}

function compile(route: Route): CompiledRoute {
  const names: string[] = [];
  const pattern = route.path.replace(/:([a-zA-Z_]+)/g, (_, n: string) => {
    names.push(n);
    return '([^/]+)';
  });
  return { ...route, regex: new RegExp(`^${pattern}/?$`), names };
}

const MAX_JSON_BYTES = 50 * 1024 * 1024;

/** Read and parse a JSON request body (400 with OpenAI's message if it is not JSON). */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_JSON_BYTES) throw new ApiError(413, 'Request body too large.', 'invalid_request_error', null, null);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ApiError(400, INVALID_JSON_BODY_MESSAGE, 'invalid_request_error', null, null);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ApiError(400, INVALID_JSON_BODY_MESSAGE, 'invalid_request_error', null, null);
  }
  return value as Record<string, unknown>;
}

function bearer(req: IncomingMessage): string | null {
  const h = req.headers.authorization;
  if (!h) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m?.[1] ?? null;
}

function send(res: ServerResponse, reply: Reply, requestId: string, startedAt: number): void {
  if ('handled' in reply) return;
  const headers: Record<string, string> = {
    'x-request-id': requestId,
    'openai-processing-ms': String(Math.max(1, Math.round(performance.now() - startedAt))),
    'openai-version': '2020-10-01',
    ...reply.headers,
  };
  if ('stream' in reply) {
    res.writeHead(reply.status ?? 200, { 'content-type': 'application/octet-stream', ...headers });
    reply.stream.on('error', () => res.destroy());
    reply.stream.pipe(res);
    return;
  }
  const body = JSON.stringify(reply.json);
  res.writeHead(reply.status ?? 200, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    ...headers,
  });
  res.end(body);
}

function sendError(res: ServerResponse, err: ApiError, requestId: string, startedAt: number): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  send(res, { status: err.status, json: err.toEnvelope(), headers: err.headers }, requestId, startedAt);
}

/** Build the node:http server for a simulator context. */
export function createHttpServer(sim: SimContext, routes: Route[]): Server {
  const compiled = routes.map(compile);
  let requestCounter = 0;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const startedAt = performance.now();
    const requestId = newHttpRequestId();
    const url = new URL(req.url ?? '/', 'http://simulator.local');
    const method = (req.method ?? 'GET').toUpperCase();
    const path = url.pathname;
    try {
      let match: { route: CompiledRoute; params: Record<string, string> } | undefined;
      for (const route of compiled) {
        const m = route.regex.exec(path);
        if (!m) continue;
        if (route.method !== method) continue;
        const params: Record<string, string> = {};
        route.names.forEach((n, i) => {
          params[n] = decodeURIComponent(m[i + 1] ?? '');
        });
        match = { route, params };
        break;
      }
      const rc: RequestContext = { req, res, method, path, query: url.searchParams, params: match?.params ?? {}, clientId: '', organization: '' };
      if (match?.route.open) {
        send(res, await match.route.handler(sim, rc), requestId, startedAt);
        return;
      }
      const key = bearer(req);
      if (!key) throw unauthorized();
      rc.clientId = clientIdForKey(key, sim.scenario.projects);
      rc.organization = sim.organizationOverride ?? organizationForKey(key, sim.scenario.projects);
      sim.stats.request(rc.clientId, rc.organization);
      if (!match) {
        req.resume();
        throw invalidUrl(method, path);
      }
      const fault = decideHttpFault(sim.scenario, requestCounter++);
      if (fault.kind === 'slow') {
        sim.stats.fault(rc.clientId, 'http_slow');
        await new Promise((r) => setTimeout(r, fault.ms));
      } else if (fault.kind !== 'none') {
        req.resume();
        sim.stats.fault(rc.clientId, `http_${fault.kind}`);
        throw fault.kind === '429' ? rateLimited(sim.scenario.httpFaults.retryAfterSeconds) : fault.kind === '500' ? serverError() : overloaded();
      }
      rc.params = match.params;
      send(res, await match.route.handler(sim, rc), requestId, startedAt);
    } catch (err) {
      if (err instanceof ApiError) {
        sendError(res, err, requestId, startedAt);
        return;
      }
      sim.logger.warn('simulator: unexpected error', { method, path, error: (err as Error).message });
      sendError(res, serverError(), requestId, startedAt);
    }
  };

  const server = createServer((req, res) => {
    void handle(req, res);
  });
  server.keepAliveTimeout = 5_000;
  return server;
}
