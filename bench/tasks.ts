/**
 * The bench's tasks (BATCHFLEET_TASKS=bench/tasks.ts in the fleet processes it starts).
 * - `bench-ticket`: exactly the naive reference's request (its items are support tickets: a
 *   41-word system prompt and a 30-120-word ticket, gpt-4o-mini, max_tokens 50), so that fleet and
 *   reference do the same work. Any non-empty answer succeeds.
 * - `bench-long-answer`: a one-line prompt whose structured answer is a 3,700-character string,
 *   for the large output file bench.
 * Both declare `parseOutputUsesInput: false`: their parsers read the answer alone (as the naive
 * reference's processing does), so processing does not read the items' inputs back.
 */
import { z } from 'zod';
import { defineTask, OutputValidationError } from '../src/tasks/contract.ts';
import { TaskRegistry } from '../src/tasks/registry.ts';

const message = z.object({ role: z.enum(['system', 'user', 'assistant', 'developer']), content: z.string() });

export const benchTicket = defineTask({
  name: 'bench-ticket',
  model: 'gpt-4o-mini',
  endpoint: '/v1/chat/completions',
  input: z.object({ messages: z.array(message).min(1).max(8) }),
  buildRequest: (input, { maxOutputTokens }) => ({ model: 'gpt-4o-mini', messages: input.messages, max_tokens: maxOutputTokens ?? 50 }),
  parseOutput: ({ content }) => {
    if (!content) throw new OutputValidationError('empty_output', 'empty answer');
    return content;
  },
  parseOutputUsesInput: false,
});

/** Characters of the `bench-long-answer` answer string. */
export const LONG_ANSWER_CHARS = 3_700;

export const benchLongAnswer = defineTask({
  name: 'bench-long-answer',
  model: 'gpt-4o-mini',
  endpoint: '/v1/chat/completions',
  input: z.object({ topic: z.string().min(1) }),
  buildRequest: (input) => ({
    model: 'gpt-4o-mini',
    max_tokens: 4_000,
    messages: [{ role: 'user', content: `Write a long note about ${input.topic}.` }],
    response_format: {
      type: 'json_schema',
      json_schema: {
        name: 'note',
        strict: true,
        schema: {
          type: 'object',
          additionalProperties: false,
          required: ['note'],
          properties: { note: { type: 'string', minLength: LONG_ANSWER_CHARS, maxLength: LONG_ANSWER_CHARS } },
        },
      },
    },
  }),
  parseOutput: ({ content }) => {
    if (!content) throw new OutputValidationError('empty_output', 'empty answer');
    return { chars: content.length };
  },
  parseOutputUsesInput: false,
});

export default new TaskRegistry([benchTicket, benchLongAnswer]);
