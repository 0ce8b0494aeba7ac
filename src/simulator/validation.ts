/**
 * Validation of a batch input file, streamed line by line. A file that fails makes the batch
 * `failed` with `errors.data = [{code, message, param, line}]` (reference §3.3). OpenAI publishes
 * no list of codes: `token_limit_exceeded` is real; `invalid_json_line`, `duplicate_custom_id`,
 * `url_mismatch`, `model_mismatch`, `too_many_tasks`, `empty_file`, `invalid_request` are Azure
 * OpenAI's names; `missing_required_parameter` is OpenAI's synchronous-API code; `file_too_large` is
 * invented (the message is real). docs/simulator.md lists them.
 *
 * The same pass counts each request's input tokens and draws its fault, so a valid file is read
 * exactly once before it runs.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { embeddingInputCount, LINE_FAULTS, planRequest, type LineFault } from './line-executor.ts';
import type { Scenario } from './scenarios.ts';
import type { TokenCounter } from './token-counter.ts';

/** One entry of `batch.errors.data`. */
export interface BatchError {
  code: string;
  message: string;
  param: string | null;
  line: number | null;
}

/** A file that can run. */
export interface ValidInput {
  ok: true;
  total: number;
  /** `body.model` as written in the file. */
  model: string;
  /** Input tokens of all requests (what counts against the enqueued-token limit). */
  tokens: number;
  /** Index into LINE_FAULTS per request. */
  faults: Uint8Array;
  /** failedBefore[i] = requests among the first i that end as HTTP errors. */
  failedBefore: Uint32Array;
}

/** A file that makes the batch fail. */
export interface InvalidInput {
  ok: false;
  errors: BatchError[];
}

/** At most this many line errors are reported. */
export const MAX_REPORTED_ERRORS = 100;

const fmt = (n: number): string => n.toLocaleString('en-US');

/** Parameters of {@link validateInputFile}. */
export interface ValidateOptions {
  path: string;
  bytes: number;
  endpoint: string;
  limits: Scenario['limits'];
  counter: TokenCounter;
  /** Draw the fault of a request (called once per request of a valid-so-far file). */
  decideFault(customId: string, body: Record<string, unknown>): LineFault;
}

function err(code: string, message: string, param: string | null, line: number | null): BatchError {
  return { code, message, param, line };
}

/** Validate an input file and, if valid, plan its requests. */
export async function validateInputFile(opts: ValidateOptions): Promise<ValidInput | InvalidInput> {
  const { limits, endpoint } = opts;
  if (opts.bytes > limits.maxInputFileBytes) {
    return {
      ok: false,
      errors: [
        err(
          'file_too_large',
          `The batch input file is larger than the ${limits.maxInputFileBytes} maximum. Please try again with a smaller batch.`,
          null,
          null,
        ),
      ],
    };
  }

  const errors: BatchError[] = [];
  const seen = new Set<string>();
  let tokens = 0;
  const faults: number[] = [];
  const failed: number[] = [];
  let total = 0;
  let firstModel: string | undefined;
  let embeddingInputs = 0;
  let pendingBlank: number[] = [];
  let lineNo = 0;
  let tooMany = false;

  const rl = createInterface({ input: createReadStream(opts.path), crlfDelay: Infinity });
  try {
    for await (const raw of rl) {
      lineNo++;
      if (lineNo % 500 === 0) await new Promise<void>((r) => setImmediate(r));
      const text = raw.trim();
      if (text === '') {
        pendingBlank.push(lineNo);
        continue;
      }
      for (const b of pendingBlank) {
        if (errors.length < MAX_REPORTED_ERRORS) errors.push(err('invalid_json_line', 'This line is not parseable as valid JSON.', null, b));
      }
      pendingBlank = [];
      total++;
      if (total > limits.maxRequestsPerBatch) {
        tooMany = true;
        break;
      }
      if (errors.length >= MAX_REPORTED_ERRORS) continue;

      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        errors.push(err('invalid_json_line', 'This line is not parseable as valid JSON.', null, lineNo));
        continue;
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        errors.push(err('invalid_request', 'Each line must be a JSON object.', null, lineNo));
        continue;
      }
      const line = parsed as Record<string, unknown>;
      const customId = line.custom_id;
      if (typeof customId !== 'string' || customId.length === 0) {
        errors.push(err('missing_required_parameter', "Missing required parameter: 'custom_id'.", 'custom_id', lineNo));
        continue;
      }
      if (seen.has(customId)) {
        errors.push(
          err(
            'duplicate_custom_id',
            `The custom_id '${customId}' is used by more than one request. Each request in a batch must have a unique custom_id.`,
            'custom_id',
            lineNo,
          ),
        );
        continue;
      }
      seen.add(customId);
      if (line.method !== 'POST') {
        errors.push(err('invalid_request', `Invalid value for 'method': '${String(line.method)}'. Only POST is supported.`, 'method', lineNo));
        continue;
      }
      if (typeof line.url !== 'string') {
        errors.push(err('missing_required_parameter', "Missing required parameter: 'url'.", 'url', lineNo));
        continue;
      }
      if (line.url !== endpoint) {
        errors.push(
          err('url_mismatch', `The url '${line.url}' does not match the batch endpoint '${endpoint}'.`, 'url', lineNo),
        );
        continue;
      }
      const body = line.body;
      if (body === null || typeof body !== 'object' || Array.isArray(body)) {
        errors.push(err('missing_required_parameter', "Missing required parameter: 'body'.", 'body', lineNo));
        continue;
      }
      const b = body as Record<string, unknown>;
      if (typeof b.model !== 'string' || b.model.length === 0) {
        errors.push(err('missing_required_parameter', "Missing required parameter: 'body.model'.", 'body.model', lineNo));
        continue;
      }
      if (firstModel === undefined) firstModel = b.model;
      else if (b.model !== firstModel) {
        errors.push(
          err(
            'model_mismatch',
            `The model '${b.model}' does not match the model '${firstModel}' of the other requests. A batch input file can only contain requests for a single model.`,
            'body.model',
            lineNo,
          ),
        );
        continue;
      }
      if (endpoint === '/v1/embeddings') embeddingInputs += embeddingInputCount(b);
      if (errors.length > 0) continue;

      const plan = planRequest(endpoint, b, opts.counter);
      const fault = opts.decideFault(customId, b);
      const natural = plan.failure;
      tokens += plan.tokens;
      faults.push(LINE_FAULTS.indexOf(fault));
      failed.push(natural || fault === 'http400' || fault === 'http500' ? 1 : 0);
    }
  } finally {
    rl.close();
  }

  if (tooMany) {
    return {
      ok: false,
      errors: [
        err(
          'too_many_tasks',
          `The input file contains more than the maximum of ${fmt(limits.maxRequestsPerBatch)} requests per batch.`,
          null,
          null,
        ),
      ],
    };
  }
  if (total === 0) {
    return {
      ok: false,
      errors: [err('empty_file', 'The input file is empty. Please ensure that the batch contains at least one request.', null, null)],
    };
  }
  if (embeddingInputs > limits.maxEmbeddingInputsPerBatch) {
    return {
      ok: false,
      errors: [
        err(
          'too_many_tasks',
          `The batch contains ${fmt(embeddingInputs)} embedding inputs, more than the maximum of ${fmt(limits.maxEmbeddingInputsPerBatch)}.`,
          null,
          null,
        ),
      ],
    };
  }
  if (errors.length > 0) return { ok: false, errors: errors.slice(0, MAX_REPORTED_ERRORS) };

  const failedBefore = new Uint32Array(total + 1);
  for (let i = 0; i < total; i++) failedBefore[i + 1] = (failedBefore[i] ?? 0) + (failed[i] ?? 0);
  return {
    ok: true,
    total,
    model: firstModel ?? '',
    tokens,
    faults: Uint8Array.from(faults),
    failedBefore,
  };
}
