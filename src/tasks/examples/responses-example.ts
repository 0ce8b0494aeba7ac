import { z } from 'zod';
import { defineTask, OutputValidationError, parseJsonContent } from '../contract.ts';

const INSTRUCTIONS =
  'You write headlines for a news digest. Read the article and answer with JSON only: a headline of ' +
  'at most twelve words and three lowercase keywords.';

const resultSchema = z.object({
  headline: z.string().min(1),
  keywords: z.array(z.string().min(1)).min(1),
});

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * The text of a Responses API answer: the `output_text` parts of its `message` output items
 * (what the SDK's `response.output_text` joins). An `incomplete` answer is truncated.
 */
export function responsesOutputText(body: Json): string | null {
  if (body.status === 'incomplete') {
    const reason = isObj(body.incomplete_details) ? String(body.incomplete_details.reason) : 'unknown';
    throw new OutputValidationError('truncated', `the answer is incomplete (${reason})`);
  }
  const parts: string[] = [];
  for (const item of Array.isArray(body.output) ? body.output : []) {
    if (!isObj(item) || item.type !== 'message' || !Array.isArray(item.content)) continue;
    for (const c of item.content) if (isObj(c) && c.type === 'output_text' && typeof c.text === 'string') parts.push(c.text);
  }
  return parts.length > 0 ? parts.join('') : null;
}

/** Headline and keywords through the Responses API (`/v1/responses`): structured output via `text.format`. */
export const responsesExample = defineTask({
  name: 'responses-example',
  model: 'gpt-4.1-mini',
  endpoint: '/v1/responses',
  input: z.object({
    title: z.string().min(1).max(1_000),
    text: z.string().min(1).max(100_000),
  }),
  limits: { maxAttempts: 8, maxOutputTokens: 200 },
  buildRequest: (input, { maxOutputTokens }) => ({
    model: 'gpt-4.1-mini',
    instructions: INSTRUCTIONS,
    input: `${input.title}\n\n${input.text}`,
    max_output_tokens: maxOutputTokens ?? 200,
    text: {
      format: {
        type: 'json_schema',
        name: 'headline',
        strict: true,
        schema: {
          type: 'object',
          additionalProperties: false,
          required: ['headline', 'keywords'],
          properties: {
            headline: { type: 'string' },
            keywords: { type: 'array', items: { type: 'string' } },
          },
        },
      },
    },
  }),
  parseOutput: ({ body }) => parseJsonContent(responsesOutputText(body), resultSchema),
});
