import { OutputValidationError, type AnyTask } from '../tasks/contract.ts';

/** Provider usage of one request. `cachedTokens` is part of `inputTokens`. */
export interface Usage {
  inputTokens: number;
  cachedTokens: number;
  outputTokens: number;
}

export const NO_USAGE: Usage = { inputTokens: 0, cachedTokens: 0, outputTokens: 0 };

/** What one output or error line says about its item, before the task's retry policy is applied. */
export type LineVerdict =
  | { kind: 'succeeded'; output: unknown; usage: Usage }
  | { kind: 'retryable'; code: string; message: string; usage: Usage; truncated: boolean }
  | { kind: 'permanent'; code: string; message: string; usage: Usage }
  | { kind: 'not_executed'; code: string; message: string };

/** Line-level error codes that mean the request never ran. */
const NOT_EXECUTED_CODES = new Set(['batch_expired', 'batch_cancelled', 'batch_failed']);
/** HTTP statuses whose errors a retry cannot fix (the provider rejected the request itself). */
const PERMANENT_STATUSES = new Set([400, 401, 403, 404, 413, 422]);

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** Reads usage from a chat, responses or embeddings body. */
export function usageOf(body: Json | undefined): Usage {
  const u = obj(body?.usage);
  if (!u) return NO_USAGE;
  const input = num(u.prompt_tokens ?? u.input_tokens);
  const details = obj(u.prompt_tokens_details) ?? obj(u.input_tokens_details);
  return { inputTokens: input, cachedTokens: Math.min(input, num(details?.cached_tokens)), outputTokens: num(u.completion_tokens ?? u.output_tokens) };
}

/**
 * The verdict of one parsed output/error line, from the line itself and the task's validator,
 * never from the batch status. The validator gets `input` unless the task declares it does not
 * read it (`parseOutputUsesInput: false`; then `undefined`, whether or not the caller read it).
 */
export function judgeLine(line: Json, task: AnyTask, input: unknown): LineVerdict {
  const error = obj(line.error);
  const response = obj(line.response);
  if (error && !response) {
    const code = String(error.code ?? 'provider_error');
    const message = String(error.message ?? 'the provider reported an error');
    return NOT_EXECUTED_CODES.has(code) ? { kind: 'not_executed', code, message } : { kind: 'retryable', code, message, usage: NO_USAGE, truncated: false };
  }
  if (!response) return { kind: 'retryable', code: 'malformed_line', message: 'the line has neither response nor error', usage: NO_USAGE, truncated: false };

  const status = num(response.status_code);
  const body = obj(response.body) ?? {};
  const usage = usageOf(body);
  if (status !== 200) {
    const e = obj(body.error) ?? {};
    const code = String(e.code ?? e.type ?? `http_${status}`);
    const message = `${status}: ${String(e.message ?? 'request failed')}`;
    return PERMANENT_STATUSES.has(status) ? { kind: 'permanent', code, message, usage } : { kind: 'retryable', code, message, usage, truncated: false };
  }

  let content: string | null = null;
  if (task.endpoint === '/v1/chat/completions') {
    const choice = obj((body.choices as unknown[] | undefined)?.[0]);
    const message = obj(choice?.message);
    const finish = choice?.finish_reason;
    if (typeof message?.refusal === 'string' && message.refusal) {
      return { kind: 'retryable', code: 'refusal', message: `the model refused: ${message.refusal.slice(0, 200)}`, usage, truncated: false };
    }
    if (finish === 'content_filter') return { kind: 'retryable', code: 'content_filter', message: 'the answer was stopped by the content filter', usage, truncated: false };
    if (finish === 'length') return { kind: 'retryable', code: 'truncated', message: 'the answer hit its output token limit (finish_reason: length)', usage, truncated: true };
    content = typeof message?.content === 'string' ? message.content : null;
  }
  try {
    return { kind: 'succeeded', output: task.parseOutput({ body, content }, task.parseOutputUsesInput === false ? undefined : input), usage };
  } catch (err) {
    if (err instanceof OutputValidationError) return { kind: 'retryable', code: err.code, message: err.message, usage, truncated: err.code === 'truncated' };
    return { kind: 'retryable', code: 'parse_error', message: `parseOutput threw: ${(err as Error).message}`, usage, truncated: false };
  }
}
