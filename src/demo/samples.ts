/** Deterministic sample work for the demo, tests and benchmarks. */
const PRODUCTS = ['the mobile app', 'the billing page', 'the API', 'the dashboard', 'single sign-on', 'CSV export', 'the invoice PDF'];
const PROBLEMS = [
  'crashes when I open it',
  'charged me twice this month',
  'returns a 500 error since this morning',
  'would be great with a dark mode',
  'locked me out after a password reset',
  'shows the wrong currency',
  'is very slow for our team in Europe',
];
const TOPICS = ['battery recycling', 'urban beekeeping', 'a new open-source database', 'remote work policies', 'river restoration', 'chip export rules'];

function pick<T>(list: readonly T[], i: number, salt: number): T {
  return list[(i * 7919 + salt * 104729) % list.length]!;
}

export function sampleTicket(i: number): { subject: string; body: string } {
  const product = pick(PRODUCTS, i, 1);
  const problem = pick(PROBLEMS, i, 2);
  return {
    subject: `${product} ${problem}`.slice(0, 120),
    body: `Hello, ticket #${i}. Since yesterday ${product} ${problem}. We have ${(i % 40) + 2} people affected and a deadline on Friday. Please advise.`,
  };
}

export function sampleArticle(i: number): { title: string; text: string } {
  const topic = pick(TOPICS, i, 3);
  const para = `Reporters looked at ${topic} in ${2020 + (i % 6)}. Experts disagree on the costs, but most agree the trend is growing. `;
  return { title: `What changed in ${topic} (#${i})`, text: para.repeat(2 + (i % 3)) };
}

/** `n` demo items of one example task (`--task`), with external ids unique to the run. */
export function sampleItemsFor(task: string, runId: string, n: number): Array<{ task: string; externalId: string; input: unknown }> {
  return Array.from({ length: n }, (_, i) => ({
    task,
    externalId: `${runId}-${i}`,
    input: task === 'classify-ticket' ? sampleTicket(i) : (({ title, text }) => ({ title, text }))(sampleArticle(i)),
  }));
}

/** `n` demo items split across the two example tasks, with external ids unique to the run. */
export function sampleItems(runId: string, n: number): Array<{ task: 'classify-ticket' | 'summarize-article'; externalId: string; input: unknown }> {
  return Array.from({ length: n }, (_, i) =>
    i % 2 === 0
      ? { task: 'classify-ticket' as const, externalId: `${runId}-${i}`, input: sampleTicket(i) }
      : { task: 'summarize-article' as const, externalId: `${runId}-${i}`, input: sampleArticle(i) },
  );
}
