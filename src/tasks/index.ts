export * from './contract.ts';
export * from './registry.ts';
export { classifyTicket } from './examples/classify-ticket.ts';
export { summarizeArticle } from './examples/summarize-article.ts';
export { responsesExample, responsesOutputText } from './examples/responses-example.ts';

import { classifyTicket } from './examples/classify-ticket.ts';
import { summarizeArticle } from './examples/summarize-article.ts';
import { responsesExample } from './examples/responses-example.ts';
import { createRegistry } from './registry.ts';

/** The registry of the example tasks shipped with batchfleet. */
export function exampleRegistry() {
  return createRegistry([classifyTicket, summarizeArticle, responsesExample]);
}
