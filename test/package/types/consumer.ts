// A producer's code, compiled with `tsc --strict` against batchfleet's published .d.ts files.
// Every `@ts-expect-error` below must be an error: tsc fails if one of them compiles.
import { createClient, type TaskResult } from 'batchfleet/client';
import { classifyTicket, defineTask, parseJsonContent } from 'batchfleet/tasks';
import { z } from 'zod';

const translate = defineTask({
  name: 'translate',
  model: 'gpt-4o-mini',
  endpoint: '/v1/chat/completions',
  input: z.object({ text: z.string(), to: z.enum(['de', 'fr']) }),
  buildRequest: (input) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `${input.to}: ${input.text}` }] }),
  parseOutput: ({ content }) => parseJsonContent(content, z.object({ translation: z.string() })),
  delivery: { payload: 'full', retention: { maxWaiting: 5_000 } },
});

export async function produce(): Promise<void> {
  const client = createClient({ redis: 'redis://127.0.0.1:6379', tasks: [classifyTicket, translate] });
  const handle = await client.enqueue(classifyTicket, [{ externalId: 't-1', input: { subject: 'Login', body: 'It fails.' } }]);
  for await (const result of handle.results({ timeout: 60_000 })) {
    if (result.status === 'succeeded') {
      const category: 'billing' | 'bug' | 'feature_request' | 'account' | 'other' = result.output.category;
      const cost: number = result.costUsd + result.usage.inputTokens;
      void category;
      void cost;
    } else {
      const reason: string = result.error.code + result.history.length;
      void reason;
    }
  }
  const byName = await client.enqueue('translate', [{ externalId: 'x-1', input: { text: 'hello', to: 'de' } }]);
  const results: Array<TaskResult<{ translation: string }>> = await byName.wait();
  const waited = await client.wait(['x-1'], { task: 'translate', timeout: 1_000 });
  for (const r of waited) if (r.status === 'succeeded') void r.output.translation;
  await client.onResult(translate, (result, info) => {
    if (result.status === 'succeeded') void (result.output.translation + info.idempotenceKey);
  });
  const status = await client.status('translate');
  void status.held?.expectedWaitMs;
  void results;

  // @ts-expect-error body must be a string
  await client.enqueue(classifyTicket, [{ externalId: 't-2', input: { subject: 'Login', body: 42 } }]);
  // @ts-expect-error subject is missing
  await client.enqueue('classify-ticket', [{ externalId: 't-3', input: { body: 'no subject' } }]);
  // @ts-expect-error 'es' is not a target language of translate
  await client.enqueue('translate', [{ externalId: 'x-2', input: { text: 'hola', to: 'es' } }]);
  // @ts-expect-error not a task of this client
  await client.enqueue('summarize-article', [{ externalId: 's-1', input: { title: 't', text: 'x' } }]);
  for await (const r of byName.results()) {
    // @ts-expect-error translate's output has no category
    if (r.status === 'succeeded') void r.output.category;
  }
  await client.close();
}
