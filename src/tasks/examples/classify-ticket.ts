import { z } from 'zod';
import { defineTask, parseJsonContent } from '../contract.ts';

const CATEGORIES = ['billing', 'bug', 'feature_request', 'account', 'other'] as const;

const SYSTEM_PROMPT =
  'You triage customer support tickets. Read the ticket and answer with JSON only: its category, ' +
  'its priority (low, medium or high: high means the customer cannot work or is losing money), ' +
  'and a one-sentence summary an agent can read at a glance.';

const resultSchema = z.object({
  category: z.enum(CATEGORIES),
  priority: z.enum(['low', 'medium', 'high']),
  summary: z.string().min(1),
});

/** Support-ticket classification: JSON output checked against a schema. */
export const classifyTicket = defineTask({
  name: 'classify-ticket',
  model: 'gpt-4o-mini',
  endpoint: '/v1/chat/completions',
  input: z.object({
    subject: z.string().min(1).max(500),
    body: z.string().min(1).max(20_000),
  }),
  limits: { maxAttempts: 8, maxOutputTokens: 150 },
  buildRequest: (input, { maxOutputTokens }) => ({
    model: 'gpt-4o-mini',
    messages: [
      { role: 'system', content: SYSTEM_PROMPT },
      { role: 'user', content: `Subject: ${input.subject}\n\n${input.body}` },
    ],
    max_tokens: maxOutputTokens ?? 150,
    response_format: {
      type: 'json_schema',
      json_schema: {
        name: 'ticket_triage',
        strict: true,
        schema: {
          type: 'object',
          additionalProperties: false,
          required: ['category', 'priority', 'summary'],
          properties: {
            category: { type: 'string', enum: [...CATEGORIES] },
            priority: { type: 'string', enum: ['low', 'medium', 'high'] },
            summary: { type: 'string' },
          },
        },
      },
    },
  }),
  parseOutput: ({ content }) => parseJsonContent(content, resultSchema),
});
