import { z } from 'zod';
import { defineTask, OutputValidationError } from '../contract.ts';

const SYSTEM_PROMPT =
  'You write faithful summaries of news and blog articles for a daily digest. ' +
  'Answer with two or three plain sentences, no lists, no preamble.';

/** Article summarisation: free text, checked to be non-empty and of digest length. */
export const summarizeArticle = defineTask({
  name: 'summarize-article',
  model: 'gpt-4o-mini',
  endpoint: '/v1/chat/completions',
  input: z.object({
    title: z.string().min(1).max(1_000),
    text: z.string().min(1).max(100_000),
    url: z.string().url().optional(),
  }),
  limits: { maxAttempts: 8, maxOutputTokens: 200 },
  buildRequest: (input, { maxOutputTokens }) => ({
    model: 'gpt-4o-mini',
    messages: [
      { role: 'system', content: SYSTEM_PROMPT },
      { role: 'user', content: `# ${input.title}\n\n${input.text}` },
    ],
    max_tokens: maxOutputTokens ?? 200,
  }),
  parseOutput: ({ content }) => {
    const summary = content?.trim() ?? '';
    if (summary.length === 0) throw new OutputValidationError('empty_output', 'the summary is empty');
    if (summary.split(/\s+/).length > 150) throw new OutputValidationError('too_long', 'the summary is longer than 150 words');
    return { summary };
  },
});
