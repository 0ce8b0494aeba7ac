import { describe, isRecord, malformed, unsupported } from './body-shape.ts';
import type { CountContext } from './count-context.ts';
import { imageInputTokens, parseDetail } from './image-input.ts';
import type { ChatOverheads } from './model-profile.ts';

/**
 * GUESS: tokens added per element of an array `content` (text or image part). No rule is published;
 * parts are also tokenized separately, which loses merges across part boundaries, so this errs high.
 */
export const CONTENT_PART_OVERHEAD = 1;

/**
 * GUESS: tokens added per tool call in an assistant message (`tool_calls[]` or legacy `function_call`) on
 * top of the function name and arguments. Unpublished; chosen to err a little high.
 */
export const TOOL_CALL_OVERHEAD = 6;

/**
 * Tokens of a Chat Completions `messages` list with the cookbook's `num_tokens_from_messages`:
 * per message `tokensPerMessage`, every string value encoded (role, content, name, …), `tokensPerName`
 * when a `name` is present; then `replyPriming` and `requestExtra` once.
 *
 * Extensions, all GUESSES that err high: array content (text parts, images with the image formula,
 * {@link CONTENT_PART_OVERHEAD} per part); `tool_calls`/`function_call` ({@link TOOL_CALL_OVERHEAD} +
 * name + arguments); `tool` messages count their `tool_call_id` string as a stand-in for the function name
 * the API renders; other non-string values count as their JSON. Audio and file parts cannot be estimated
 * and throw `UNSUPPORTED_INPUT`.
 */
export function countChatMessages(ctx: CountContext, messages: unknown, path: string, o: ChatOverheads): number {
  if (!Array.isArray(messages)) throw malformed(path, `must be an array of messages, got ${describe(messages)}`);
  if (messages.length === 0) throw malformed(path, 'must contain at least one message');
  let n = o.replyPriming + o.requestExtra;
  for (let i = 0; i < messages.length; i++) {
    n += countChatMessage(ctx, messages[i], `${path}[${i}]`, o);
  }
  return n;
}

/** Tokens of one chat message (without the per-request reply priming); see {@link countChatMessages}. */
export function countChatMessage(ctx: CountContext, message: unknown, path: string, o: ChatOverheads): number {
  if (!isRecord(message)) throw malformed(path, `must be an object, got ${describe(message)}`);
  if (typeof message.role !== 'string') throw malformed(`${path}.role`, `must be a string, got ${describe(message.role)}`);
  let n = o.tokensPerMessage;
  for (const key in message) {
    const value = message[key];
    if (value === undefined || value === null) continue;
    switch (key) {
      case 'content':
        n += countContent(ctx, value, `${path}.content`);
        break;
      case 'name':
        if (typeof value !== 'string') throw malformed(`${path}.name`, `must be a string, got ${describe(value)}`);
        n += ctx.text(value) + o.tokensPerName;
        break;
      case 'tool_calls':
        n += countToolCalls(ctx, value, `${path}.tool_calls`);
        break;
      case 'function_call':
        n += countFunctionCall(ctx, value, `${path}.function_call`);
        break;
      default:
        if (typeof value === 'string') n += ctx.text(value);
        else if (typeof value === 'object') n += ctx.text(JSON.stringify(value)); // e.g. audio: {id}; guess
    }
  }
  return n;
}

/** Tokens of a message `content`: a string, or an array of parts. */
function countContent(ctx: CountContext, content: unknown, path: string): number {
  if (typeof content === 'string') return ctx.text(content);
  if (!Array.isArray(content)) {
    throw malformed(path, `must be a string, an array of content parts or null, got ${describe(content)}`);
  }
  let n = 0;
  for (let i = 0; i < content.length; i++) {
    n += CONTENT_PART_OVERHEAD + countPart(ctx, content[i], `${path}[${i}]`);
  }
  return n;
}

function countPart(ctx: CountContext, part: unknown, path: string): number {
  if (!isRecord(part)) throw malformed(path, `must be an object, got ${describe(part)}`);
  switch (part.type) {
    case 'text':
      if (typeof part.text !== 'string') throw malformed(`${path}.text`, `must be a string, got ${describe(part.text)}`);
      return ctx.text(part.text);
    case 'refusal':
      return typeof part.refusal === 'string' ? ctx.text(part.refusal) : 0;
    case 'image_url': {
      const image = part.image_url;
      if (typeof image === 'string') return imageInputTokens(ctx, image, 'auto');
      if (!isRecord(image) || typeof image.url !== 'string') {
        throw malformed(`${path}.image_url`, 'must be an object with a string url');
      }
      return imageInputTokens(ctx, image.url, parseDetail(image.detail, `${path}.image_url.detail`));
    }
    case 'input_audio':
      throw unsupported(path, 'audio input tokens cannot be estimated (they depend on the audio duration)');
    case 'file':
      throw unsupported(path, 'file (PDF) input tokens cannot be estimated without parsing the file');
    default:
      if (typeof part.type !== 'string') throw malformed(`${path}.type`, `must be a string, got ${describe(part.type)}`);
      return ctx.text(JSON.stringify(part)); // unknown part type: count its JSON (guess)
  }
}

function countToolCalls(ctx: CountContext, calls: unknown, path: string): number {
  if (!Array.isArray(calls)) throw malformed(path, `must be an array, got ${describe(calls)}`);
  let n = 0;
  for (let i = 0; i < calls.length; i++) {
    const call: unknown = calls[i];
    const at = `${path}[${i}]`;
    if (!isRecord(call)) throw malformed(at, `must be an object, got ${describe(call)}`);
    if (isRecord(call.function)) n += countFunctionCall(ctx, call.function, `${at}.function`);
    else if (isRecord(call.custom)) {
      const c = call.custom;
      n += TOOL_CALL_OVERHEAD + textOf(ctx, c.name) + textOf(ctx, c.input);
    } else n += TOOL_CALL_OVERHEAD + ctx.text(JSON.stringify(call));
  }
  return n;
}

function countFunctionCall(ctx: CountContext, call: unknown, path: string): number {
  if (!isRecord(call)) throw malformed(path, `must be an object, got ${describe(call)}`);
  if (typeof call.name !== 'string') throw malformed(`${path}.name`, `must be a string, got ${describe(call.name)}`);
  return TOOL_CALL_OVERHEAD + ctx.text(call.name) + textOf(ctx, call.arguments);
}

function textOf(ctx: CountContext, value: unknown): number {
  if (typeof value === 'string') return ctx.text(value);
  if (value === undefined || value === null) return 0;
  return ctx.text(JSON.stringify(value));
}
