/**
 * Test support for the simulator: start one per test (port 0, frozen clock by default), an
 * official OpenAI client whose fetch validates EVERY JSON response body against the wire schemas
 * in test/fixtures/openai-wire (copied from the research bundle), and small helpers to build input
 * files and move batches along the simulated clock without sleeping on time.
 */
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import Ajv2020 from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';
import OpenAI, { toFile } from 'openai';
import { expect, onTestFinished } from 'vitest';
import { startSimulator, type SimulatorHandle, type SimulatorOptions } from '../src/index.ts';

const WIRE_DIR = new URL('../fixtures/openai-wire/', import.meta.url);

function loadSchema(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`${name}.schema.json`, WIRE_DIR), 'utf8')) as Record<string, unknown>;
}

/** Read a fixture copied next to the wire schemas. */
export function fixture(name: string): string {
  return readFileSync(new URL(name, WIRE_DIR), 'utf8');
}

const ajv = new Ajv2020.default({ strict: true, allErrors: true });

const ERROR_ENVELOPE = {
  type: 'object',
  required: ['error'],
  additionalProperties: false,
  properties: {
    error: {
      type: 'object',
      required: ['message', 'type', 'param', 'code'],
      additionalProperties: false,
      properties: {
        message: { type: 'string', minLength: 1 },
        type: { type: 'string' },
        param: { type: ['string', 'null'] },
        code: { type: ['string', 'null'] },
      },
    },
  },
};

const FILE_DELETED = {
  type: 'object',
  required: ['id', 'object', 'deleted'],
  additionalProperties: false,
  properties: { id: { type: 'string' }, object: { const: 'file' }, deleted: { type: 'boolean' } },
};

const CHAT_COMPLETION = {
  type: 'object',
  required: ['id', 'object', 'created', 'model', 'choices', 'usage'],
  properties: {
    id: { type: 'string', pattern: '^chatcmpl-[A-Za-z0-9]{29}$' },
    object: { const: 'chat.completion' },
    created: { type: 'integer' },
    model: { type: 'string' },
    choices: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['index', 'message', 'finish_reason', 'logprobs'],
        properties: {
          index: { type: 'integer' },
          finish_reason: { enum: ['stop', 'length', 'content_filter', 'tool_calls'] },
          logprobs: { type: 'null' },
          message: {
            type: 'object',
            required: ['role', 'content', 'refusal'],
            properties: { role: { const: 'assistant' }, content: { type: ['string', 'null'] }, refusal: { type: ['string', 'null'] } },
          },
        },
      },
    },
    usage: {
      type: 'object',
      required: ['prompt_tokens', 'completion_tokens', 'total_tokens'],
      properties: { prompt_tokens: { type: 'integer' }, completion_tokens: { type: 'integer' }, total_tokens: { type: 'integer' } },
    },
  },
};

const EMBEDDING_LIST = {
  type: 'object',
  required: ['object', 'data', 'model', 'usage'],
  properties: {
    object: { const: 'list' },
    data: {
      type: 'array',
      items: {
        type: 'object',
        required: ['object', 'index', 'embedding'],
        properties: { object: { const: 'embedding' }, index: { type: 'integer' }, embedding: { anyOf: [{ type: 'array', items: { type: 'number' } }, { type: 'string' }] } },
      },
    },
    model: { type: 'string' },
    usage: {
      type: 'object',
      required: ['prompt_tokens', 'total_tokens'],
      properties: { prompt_tokens: { type: 'integer' }, total_tokens: { type: 'integer' } },
    },
  },
};

/** Compiled validators for the wire objects. */
export const wire = {
  batch: ajv.compile(loadSchema('Batch')),
  file: ajv.compile(loadSchema('OpenAIFile')),
  listBatches: ajv.compile(loadSchema('ListBatchesResponse')),
  listFiles: ajv.compile(loadSchema('ListFilesResponse')),
  outputLine: ajv.compile(loadSchema('BatchRequestOutput')),
  inputLine: ajv.compile(loadSchema('BatchRequestInput')),
  webhookEvent: ajv.compile(loadSchema('WebhookBatchEvent')),
  error: ajv.compile(ERROR_ENVELOPE),
  fileDeleted: ajv.compile(FILE_DELETED),
  chatCompletion: ajv.compile(CHAT_COMPLETION),
  embeddingList: ajv.compile(EMBEDDING_LIST),
};

/** Every Batch key the simulator must send (unset ones as explicit null). */
export const BATCH_KEYS = [
  'id', 'object', 'endpoint', 'model', 'errors', 'input_file_id', 'completion_window', 'status', 'output_file_id',
  'error_file_id', 'created_at', 'in_progress_at', 'expires_at', 'finalizing_at', 'completed_at', 'failed_at',
  'expired_at', 'cancelling_at', 'cancelled_at', 'request_counts', 'usage', 'metadata',
].sort();
/** Every File key the simulator must send. */
export const FILE_KEYS = ['id', 'object', 'bytes', 'created_at', 'expires_at', 'filename', 'purpose', 'status', 'status_details'].sort();

/** Validate `value` with `v`; returns a list of problems (empty = valid). */
export function check(v: ValidateFunction, value: unknown, label: string): string[] {
  return v(value) ? [] : [`${label}: ${ajv.errorsText(v.errors)}`];
}

function checkBatch(b: unknown, label: string): string[] {
  const problems = check(wire.batch, b, label);
  const keys = Object.keys(b as object).sort();
  if (JSON.stringify(keys) !== JSON.stringify(BATCH_KEYS)) problems.push(`${label}: keys ${keys.join(',')}`);
  const batch = b as { id: string; created_at: number; expires_at: number; status: string; file?: unknown };
  if (!/^batch_[0-9a-f]{32}$/.test(batch.id)) problems.push(`${label}: id ${batch.id}`);
  if (batch.expires_at !== batch.created_at + 86_400) problems.push(`${label}: expires_at != created_at + 86400`);
  return problems;
}

function checkFile(f: unknown, label: string): string[] {
  const problems = check(wire.file, f, label);
  const keys = Object.keys(f as object).sort();
  if (JSON.stringify(keys) !== JSON.stringify(FILE_KEYS)) problems.push(`${label}: keys ${keys.join(',')}`);
  const file = f as { id: string; status: string; status_details: unknown };
  if (!/^file-[A-Za-z0-9]{22}$/.test(file.id)) problems.push(`${label}: id ${file.id}`);
  if (file.status !== 'processed' || file.status_details !== null) problems.push(`${label}: status/status_details`);
  return problems;
}

/** Check a JSON body returned for `method path` with `status`. */
export function checkResponse(method: string, path: string, status: number, body: unknown): string[] {
  const label = `${method} ${path} ${status}`;
  if (status >= 400) return check(wire.error, body, label);
  const p = path.replace(/^\/v1/, '');
  if (method === 'GET' && p === '/files') {
    const problems = check(wire.listFiles, body, label);
    for (const f of (body as { data: unknown[] }).data ?? []) problems.push(...checkFile(f, `${label} item`));
    return problems;
  }
  if (method === 'DELETE' && /^\/files\/[^/]+$/.test(p)) return check(wire.fileDeleted, body, label);
  if ((method === 'POST' && p === '/files') || (method === 'GET' && /^\/files\/[^/]+$/.test(p))) return checkFile(body, label);
  if (method === 'GET' && p === '/batches') {
    const problems = check(wire.listBatches, body, label);
    for (const b of (body as { data: unknown[] }).data ?? []) problems.push(...checkBatch(b, `${label} item`));
    return problems;
  }
  if ((method === 'POST' && (p === '/batches' || /^\/batches\/[^/]+\/cancel$/.test(p))) || (method === 'GET' && /^\/batches\/[^/]+$/.test(p))) {
    return checkBatch(body, label);
  }
  if (method === 'POST' && p === '/chat/completions') return check(wire.chatCompletion, body, label);
  if (method === 'POST' && p === '/embeddings') return check(wire.embeddingList, body, label);
  return [`${label}: no schema for this route`];
}

/** A fetch that records every schema violation of JSON responses in `violations`. */
export function validatingFetch(violations: string[]): typeof fetch {
  return async (input, init) => {
    const res = await fetch(input, init);
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    if ((res.headers.get('content-type') ?? '').includes('application/json')) {
      const body: unknown = await res.clone().json();
      violations.push(...checkResponse(method, url.pathname, res.status, body));
    } else if (res.status >= 400) {
      violations.push(`${method} ${url.pathname} ${res.status}: error without a JSON body`);
    }
    return res;
  };
}

/** One test's simulator and client. */
export interface SimTest {
  sim: SimulatorHandle;
  client: OpenAI;
  apiKey: string;
  violations: string[];
  /** Another client (another API key = another organization) on the same simulator. */
  newClient(key?: string): OpenAI;
}

/**
 * Start a simulator for the current test (closed and checked for wire violations when it ends).
 * Defaults: frozen clock (timeScale 0), happy scenario.
 */
export async function startTestSimulator(options: SimulatorOptions = {}): Promise<SimTest> {
  const sim = await startSimulator({ timeScale: 0, ...options });
  const violations: string[] = [];
  const newClient = (key = `sk-test-${randomBytes(8).toString('hex')}`): OpenAI =>
    new OpenAI({ apiKey: key, baseURL: sim.url, maxRetries: 0, fetch: validatingFetch(violations) });
  const apiKey = `sk-test-${randomBytes(8).toString('hex')}`;
  const client = newClient(apiKey);
  onTestFinished(async () => {
    await sim.close();
    expect(violations, 'every response body matches the wire schemas').toEqual([]);
  });
  return { sim, client, apiKey, violations, newClient };
}

/** JSONL text of the given objects. */
export function jsonl(lines: unknown[]): string {
  return lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
}

/** A chat batch line. */
export function chatLine(customId: string, content: string, body: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    custom_id: customId,
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content }], ...body },
  };
}

/** An embeddings batch line. */
export function embeddingLine(customId: string, input: string | string[], body: Record<string, unknown> = {}): Record<string, unknown> {
  return { custom_id: customId, method: 'POST', url: '/v1/embeddings', body: { model: 'text-embedding-3-small', input, ...body } };
}

/** `n` chat lines `req-0 … req-(n-1)`. */
export function chatLines(n: number, prefix = 'req', body: Record<string, unknown> = {}): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => chatLine(`${prefix}-${i}`, `Classify ticket number ${i}: my order arrived late and damaged.`, body));
}

/** Upload text as a batch input file through the SDK. */
export async function uploadBatchFile(client: OpenAI, text: string, filename = 'input.jsonl'): Promise<OpenAI.Files.FileObject> {
  return client.files.create({ file: await toFile(Buffer.from(text), filename), purpose: 'batch' });
}

/** Upload lines and create a batch; returns the created batch. */
export async function createBatch(
  client: OpenAI,
  lines: unknown[] | string,
  opts: { endpoint?: '/v1/chat/completions' | '/v1/embeddings' | '/v1/responses' | '/v1/completions' | '/v1/moderations'; metadata?: Record<string, string> } = {},
): Promise<OpenAI.Batches.Batch> {
  const file = await uploadBatchFile(client, typeof lines === 'string' ? lines : jsonl(lines));
  return client.batches.create({
    input_file_id: file.id,
    endpoint: opts.endpoint ?? '/v1/chat/completions',
    completion_window: '24h',
    metadata: opts.metadata,
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Poll `fn` (real time, small steps) until it returns a truthy value. The timeout only detects a
 * condition that never comes (generous: the suite runs on loaded machines), it is no speed claim.
 */
export async function waitFor<T>(label: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 45_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
    await sleep(5);
  }
}

/** Wait (without moving the clock) until the batch has one of `statuses`. */
export async function waitForStatus(client: OpenAI, id: string, statuses: string[] | string, timeoutMs?: number): Promise<OpenAI.Batches.Batch> {
  const want = Array.isArray(statuses) ? statuses : [statuses];
  return waitFor(`batch ${id} in ${want.join('|')}`, async () => {
    const b = await client.batches.retrieve(id);
    return want.includes(b.status) ? b : undefined;
  }, timeoutMs);
}

/**
 * Advance the simulated clock by `stepSeconds` at a time until the batch reaches one of
 * `statuses` (each step lets background validation/result writing catch up).
 */
export async function advanceUntil(
  t: SimTest,
  id: string,
  statuses: string[] | string,
  stepSeconds = 60,
  maxSteps = 5_000,
  client: OpenAI = t.client,
): Promise<OpenAI.Batches.Batch> {
  const want = Array.isArray(statuses) ? statuses : [statuses];
  for (let i = 0; i < maxSteps; i++) {
    await t.sim.idle();
    const b = await client.batches.retrieve(id);
    if (want.includes(b.status)) return b;
    t.sim.clock.advance(stepSeconds);
  }
  throw new Error(`batch ${id} never reached ${want.join('|')}`);
}

/** Output line as the client reads it. */
export interface OutputLine {
  id: string;
  custom_id: string;
  response: { status_code: number; request_id: string; body: Record<string, any> } | null;
  error: { code: string; message: string } | null;
}

/** Download a result file and parse (and schema-check) every line. */
export async function readResultFile(t: SimTest, fileId: string, client: OpenAI = t.client): Promise<OutputLine[]> {
  const meta = await client.files.retrieve(fileId);
  expect(meta.purpose).toBe('batch_output');
  const text = await (await client.files.content(fileId)).text();
  expect(Buffer.byteLength(text)).toBe(meta.bytes);
  const lines = text.split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as OutputLine);
  for (const l of lines) {
    expect(check(wire.outputLine, l, 'result line')).toEqual([]);
    expect(l.id).toMatch(/^batch_req_[0-9a-f]{32}$/);
  }
  return lines;
}

/** Run one batch to an end state and return it with its parsed files. */
export async function runBatch(
  t: SimTest,
  lines: unknown[] | string,
  opts: { endpoint?: '/v1/chat/completions' | '/v1/embeddings' | '/v1/responses' | '/v1/completions' | '/v1/moderations'; metadata?: Record<string, string>; client?: OpenAI } = {},
): Promise<{ batch: OpenAI.Batches.Batch; output: OutputLine[]; errors: OutputLine[] }> {
  const client = opts.client ?? t.client;
  const created = await createBatch(client, lines, opts);
  const batch = await advanceUntil(t, created.id, ['completed', 'failed', 'expired', 'cancelled'], 600, 5_000, client);
  const output = batch.output_file_id ? await readResultFile(t, batch.output_file_id, client) : [];
  const errors = batch.error_file_id ? await readResultFile(t, batch.error_file_id, client) : [];
  return { batch, output, errors };
}
