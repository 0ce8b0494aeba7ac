import type { CountContext } from './count-context.ts';
import { countChatMessages } from './chat-messages.ts';
import { countResponseFormat } from './response-format.ts';
import { countFunctions, countToolChoice, countTools } from './tools.ts';

/**
 * Input tokens of a `/v1/chat/completions` body: `messages` (cookbook rule), plus `tools`, legacy
 * `functions`, a named `tool_choice`/`function_call`, and a `json_schema` `response_format`.
 * Output-side parameters (max_tokens, n, prediction, …) are not input and are ignored.
 */
export function countChatCompletionsBody(ctx: CountContext, body: Record<string, unknown>): number {
  let n = countChatMessages(ctx, body.messages, 'body.messages', ctx.profile.chat);
  n += countTools(ctx, body.tools, 'body.tools');
  n += countFunctions(ctx, body.functions, 'body.functions');
  n += countToolChoice(ctx, body.tool_choice) + countToolChoice(ctx, body.function_call);
  n += countResponseFormat(ctx, body.response_format, 'body.response_format');
  return n;
}
