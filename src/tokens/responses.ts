import { describe, isRecord, malformed, unsupported } from './body-shape.ts';
import { CONTENT_PART_OVERHEAD, TOOL_CALL_OVERHEAD } from './chat-messages.ts';
import type { CountContext } from './count-context.ts';
import { imageInputTokens, parseDetail } from './image-input.ts';
import { RESPONSES_OVERHEADS, type ChatOverheads } from './model-profile.ts';
import { countResponseFormat } from './response-format.ts';
import { countToolChoice, countTools } from './tools.ts';

/**
 * Input tokens of a `/v1/responses` body — an over-estimate, since no counting rule is published for the
 * Responses API. Items are counted like chat messages with {@link RESPONSES_OVERHEADS} (cookbook rule + 1
 * per item + 8 per request): `instructions` as a developer message; `input` as one user message (string)
 * or a list of items (messages with string or part content, function calls and outputs, reasoning
 * summaries; other item types as their JSON); `tools` and `text.format` as for Chat Completions.
 *
 * Bodies that pull context from the server (`previous_response_id`, `conversation`, a stored `prompt`,
 * `item_reference` items) throw `UNSUPPORTED_INPUT`: those tokens cannot be seen, let alone bounded.
 */
export function countResponsesBody(ctx: CountContext, body: Record<string, unknown>): number {
  for (const key of ['previous_response_id', 'conversation', 'prompt'] as const) {
    if (body[key] !== undefined && body[key] !== null) {
      throw unsupported(`body.${key}`, 'the tokens of server-side context cannot be estimated');
    }
  }
  const o = RESPONSES_OVERHEADS;
  const { instructions, input } = body;
  if (instructions !== undefined && instructions !== null && typeof instructions !== 'string') {
    throw malformed('body.instructions', `must be a string, got ${describe(instructions)}`);
  }
  if (input === undefined && instructions === undefined) {
    throw malformed('body.input', 'is required (a string or an array of input items)');
  }
  let n = o.replyPriming + o.requestExtra;
  if (typeof instructions === 'string') n += o.tokensPerMessage + ctx.text('developer') + ctx.text(instructions);
  if (typeof input === 'string') n += o.tokensPerMessage + ctx.text('user') + ctx.text(input);
  else if (Array.isArray(input)) {
    for (let i = 0; i < input.length; i++) n += countItem(ctx, input[i], `body.input[${i}]`, o);
  } else if (input !== undefined && input !== null) {
    throw malformed('body.input', `must be a string or an array of input items, got ${describe(input)}`);
  }
  n += countTools(ctx, body.tools, 'body.tools');
  n += countToolChoice(ctx, body.tool_choice);
  if (isRecord(body.text)) n += countResponseFormat(ctx, body.text.format, 'body.text.format');
  return n;
}

function countItem(ctx: CountContext, item: unknown, path: string, o: ChatOverheads): number {
  if (!isRecord(item)) throw malformed(path, `must be an object, got ${describe(item)}`);
  const type = item.type;
  if (type === undefined || type === 'message') {
    if (typeof item.role !== 'string') throw malformed(`${path}.role`, `must be a string, got ${describe(item.role)}`);
    return o.tokensPerMessage + ctx.text(item.role) + countContent(ctx, item.content, `${path}.content`);
  }
  switch (type) {
    case 'function_call':
      return o.tokensPerMessage + TOOL_CALL_OVERHEAD + textOf(ctx, item.name) + textOf(ctx, item.arguments);
    case 'custom_tool_call':
      return o.tokensPerMessage + TOOL_CALL_OVERHEAD + textOf(ctx, item.name) + textOf(ctx, item.input);
    case 'function_call_output':
    case 'custom_tool_call_output': {
      // call_id counted as a stand-in for the function name the model sees (guess, errs high).
      const output = item.output;
      const body = Array.isArray(output) ? countContent(ctx, output, `${path}.output`) : textOf(ctx, output);
      return o.tokensPerMessage + textOf(ctx, item.call_id) + body;
    }
    case 'reasoning': {
      // Only the readable summary can be counted; encrypted reasoning content is opaque.
      let n = o.tokensPerMessage;
      if (Array.isArray(item.summary)) {
        for (const s of item.summary) if (isRecord(s)) n += textOf(ctx, s.text);
      }
      return n;
    }
    case 'item_reference':
      throw unsupported(path, 'the tokens of a referenced server-side item cannot be estimated');
    default:
      if (typeof type !== 'string') throw malformed(`${path}.type`, `must be a string, got ${describe(type)}`);
      return o.tokensPerMessage + ctx.text(JSON.stringify(item)); // other item types: their JSON (guess)
  }
}

function countContent(ctx: CountContext, content: unknown, path: string): number {
  if (typeof content === 'string') return ctx.text(content);
  if (!Array.isArray(content)) {
    throw malformed(path, `must be a string or an array of content parts, got ${describe(content)}`);
  }
  let n = 0;
  for (let i = 0; i < content.length; i++) {
    const part: unknown = content[i];
    const at = `${path}[${i}]`;
    if (!isRecord(part)) throw malformed(at, `must be an object, got ${describe(part)}`);
    n += CONTENT_PART_OVERHEAD;
    switch (part.type) {
      case 'input_text':
      case 'output_text':
      case 'text':
      case 'summary_text':
        if (typeof part.text !== 'string') throw malformed(`${at}.text`, `must be a string, got ${describe(part.text)}`);
        n += ctx.text(part.text);
        break;
      case 'refusal':
        n += textOf(ctx, part.refusal);
        break;
      case 'input_image': {
        const url = typeof part.image_url === 'string' ? part.image_url : undefined; // file_id: size unknown
        n += imageInputTokens(ctx, url, parseDetail(part.detail, `${at}.detail`));
        break;
      }
      case 'input_audio':
        throw unsupported(at, 'audio input tokens cannot be estimated (they depend on the audio duration)');
      case 'input_file':
        throw unsupported(at, 'file (PDF) input tokens cannot be estimated without parsing the file');
      default:
        if (typeof part.type !== 'string') throw malformed(`${at}.type`, `must be a string, got ${describe(part.type)}`);
        n += ctx.text(JSON.stringify(part));
    }
  }
  return n;
}

function textOf(ctx: CountContext, value: unknown): number {
  if (typeof value === 'string') return ctx.text(value);
  if (value === undefined || value === null) return 0;
  return ctx.text(JSON.stringify(value));
}
