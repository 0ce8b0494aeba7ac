/**
 * Validation of a batch input file, streamed line by line. A file that fails makes the batch
 * `failed` with `errors.data = [{code, message, param, line}]` (reference §3.3). OpenAI publishes
 * no list of codes: `token_limit_exceeded` is real; every other code is ASSUMED and a knob
 * (`validation.codes`): the defaults are Azure OpenAI's names, `missing_required_parameter` is
 * OpenAI's synchronous-API code, and a too-large file gets the real message ("… maximum for the
 * <model> model …") under `invalid_request`. The README lists them.
 *
 * The same pass counts each request's input tokens and draws its fault, so a valid file is read
 * exactly once before it runs.
 */
import { readBytes } from './file-store.ts';
import { fileLines } from './file-lines.ts';
import { embeddingInputCount, instantBody, LINE_FAULTS, planRequest, type LineFault } from './line-executor.ts';
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
  /** tokensBefore[i] = input tokens of the first i requests (for usage while running). */
  tokensBefore: Float64Array;
  /** Index into LINE_FAULTS per request. */
  faults: Uint8Array;
  /** failedBefore[i] = requests among the first i that end as HTTP errors. */
  failedBefore: Uint32Array;
  /**
   * The requests as validation parsed them (with `keepLines`), so that running them does not read
   * and parse the file again; whoever runs them drops this once done.
   */
  lines?: KeptLines;
}

/** The parsed requests of a valid file, in file order (blank lines skipped). */
export interface KeptLines {
  customIds: string[];
  /** The whole body, or (with `instantBodies`) what instant execution needs of it: see `instantBody`. */
  bodies: Array<Record<string, unknown>>;
  /** The planned input tokens of a body kept by `instantBody` (run it with them); -1 for a whole body. */
  promptTokens: number[];
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
  /** Codes of the failures (scenario `validation.codes`). */
  codes: Scenario['validation']['codes'];
  counter: TokenCounter;
  /** Draw the fault of a request (called once per request of a valid-so-far file). */
  decideFault(customId: string, body: Record<string, unknown>): LineFault;
  /** Return the parsed requests of a valid file as `lines` (nothing reads or changes the bodies meanwhile). */
  keepLines?: boolean;
  /**
   * Keep only what instant execution without prompt caching needs of each body (its prompt only
   * counts through its tokens), so that a large file's prompts are not held until it runs.
   */
  instantBodies?: boolean;
}

function err(code: string, message: string, param: string | null, line: number | null): BatchError {
  return { code, message, param, line };
}

/** `body.model` of the file's first line, if it can be read. */
async function modelOfFirstLine(path: string): Promise<string> {
  for await (const raw of fileLines(readBytes(path))) {
    if (raw.trim() === '') continue;
    try {
      const model = (JSON.parse(raw) as { body?: { model?: unknown } }).body?.model;
      return typeof model === 'string' ? model : '';
    } catch {
      return '';
    }
  }
  return '';
}

/** Validate an input file and, if valid, plan its requests. */
export async function validateInputFile(opts: ValidateOptions): Promise<ValidInput | InvalidInput> {
  const { limits, endpoint, codes } = opts;
  if (opts.bytes > limits.maxInputFileBytes) {
    const model = await modelOfFirstLine(opts.path);
    return {
      ok: false,
      errors: [
        err(
          codes.fileTooLarge,
          `The batch input file is larger than the ${limits.maxInputFileBytes} maximum for the ${model} model. Please try again with a smaller batch.`,
          null,
          null,
        ),
      ],
    };
  }

  const errors: BatchError[] = [];
  const seen = new Set<string>();
  let tokens = 0;
  const perRequest: number[] = [];
  const faults: number[] = [];
  const failed: number[] = [];
  let total = 0;
  let firstModel: string | undefined;
  let embeddingInputs = 0;
  let pendingBlank: number[] = [];
  let lineNo = 0;
  let tooMany = false;
  let kept: KeptLines | null = opts.keepLines ? { customIds: [], bodies: [], promptTokens: [] } : null;

  const rl = fileLines(readBytes(opts.path));
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
        if (errors.length < MAX_REPORTED_ERRORS) errors.push(err(codes.invalidJsonLine, 'This line is not parseable as valid JSON.', null, b));
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
        errors.push(err(codes.invalidJsonLine, 'This line is not parseable as valid JSON.', null, lineNo));
        continue;
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        errors.push(err(codes.invalidLine, 'Each line must be a JSON object.', null, lineNo));
        continue;
      }
      const line = parsed as Record<string, unknown>;
      const customId = line.custom_id;
      if (typeof customId !== 'string' || customId.length === 0) {
        errors.push(err(codes.missingParameter, "Missing required parameter: 'custom_id'.", 'custom_id', lineNo));
        continue;
      }
      if (seen.has(customId)) {
        errors.push(
          err(
            codes.duplicateCustomId,
            `The custom_id '${customId}' is used by more than one request. Each request in a batch must have a unique custom_id.`,
            'custom_id',
            lineNo,
          ),
        );
        continue;
      }
      seen.add(customId);
      if (line.method !== 'POST') {
        errors.push(err(codes.invalidLine, `Invalid value for 'method': '${String(line.method)}'. Only POST is supported.`, 'method', lineNo));
        continue;
      }
      if (typeof line.url !== 'string') {
        errors.push(err(codes.missingParameter, "Missing required parameter: 'url'.", 'url', lineNo));
        continue;
      }
      if (line.url !== endpoint) {
        errors.push(
          err(codes.urlMismatch, `The url '${line.url}' does not match the batch endpoint '${endpoint}'.`, 'url', lineNo),
        );
        continue;
      }
      const body = line.body;
      if (body === null || typeof body !== 'object' || Array.isArray(body)) {
        errors.push(err(codes.missingParameter, "Missing required parameter: 'body'.", 'body', lineNo));
        continue;
      }
      const b = body as Record<string, unknown>;
      if (typeof b.model !== 'string' || b.model.length === 0) {
        errors.push(err(codes.missingParameter, "Missing required parameter: 'body.model'.", 'body.model', lineNo));
        continue;
      }
      if (firstModel === undefined) firstModel = b.model;
      else if (b.model !== firstModel) {
        errors.push(
          err(
            codes.modelMismatch,
            `The model '${b.model}' does not match the model '${firstModel}' of the other requests. A batch input file can only contain requests for a single model.`,
            'body.model',
            lineNo,
          ),
        );
        continue;
      }
      if (endpoint === '/v1/embeddings') embeddingInputs += embeddingInputCount(b);
      if (errors.length > 0) {
        kept = null; // the file fails: nothing will run
        continue;
      }

      const plan = planRequest(endpoint, b, opts.counter);
      const fault = opts.decideFault(customId, b);
      const natural = plan.failure;
      tokens += plan.tokens;
      perRequest.push(plan.tokens);
      faults.push(LINE_FAULTS.indexOf(fault));
      failed.push(natural || fault === 'http400' || fault === 'http500' ? 1 : 0);
      if (kept) {
        const slim = opts.instantBodies && !natural && fault !== 'http400' ? instantBody(endpoint, b) : null;
        kept.customIds.push(customId);
        kept.bodies.push(slim ?? b);
        kept.promptTokens.push(slim ? plan.tokens : -1);
      }
    }
  } finally {
    await rl.return(undefined);
  }

  if (tooMany) {
    return {
      ok: false,
      errors: [
        err(
          codes.tooManyRequests,
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
      errors: [err(codes.emptyFile, 'The input file is empty. Please ensure that the batch contains at least one request.', null, null)],
    };
  }
  if (embeddingInputs > limits.maxEmbeddingInputsPerBatch) {
    return {
      ok: false,
      errors: [
        err(
          codes.tooManyRequests,
          `The batch contains ${fmt(embeddingInputs)} embedding inputs, more than the maximum of ${fmt(limits.maxEmbeddingInputsPerBatch)}.`,
          null,
          null,
        ),
      ],
    };
  }
  if (errors.length > 0) return { ok: false, errors: errors.slice(0, MAX_REPORTED_ERRORS) };

  const failedBefore = new Uint32Array(total + 1);
  const tokensBefore = new Float64Array(total + 1);
  for (let i = 0; i < total; i++) {
    failedBefore[i + 1] = (failedBefore[i] ?? 0) + (failed[i] ?? 0);
    tokensBefore[i + 1] = (tokensBefore[i] ?? 0) + (perRequest[i] ?? 0);
  }
  return {
    ok: true,
    total,
    model: firstModel ?? '',
    tokens,
    tokensBefore,
    faults: Uint8Array.from(faults),
    failedBefore,
    ...(kept ? { lines: kept } : {}),
  };
}
