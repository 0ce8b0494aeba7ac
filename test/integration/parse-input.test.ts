/**
 * Items' inputs live apart from the items (`item_inputs`), and processing reads them back only for
 * whoever uses them: a parser that takes `input` gets each item's own, a task that declares
 * `parseOutputUsesInput: false` gets `undefined`, and hooks always get the input.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../../src/store/sql.ts';
import { defineTask, type AnyTask } from '../../src/tasks/contract.ts';
import { classifyTicket } from '../../src/tasks/examples/classify-ticket.ts';
import { TaskRegistry } from '../../src/tasks/registry.ts';
import { startHarness, type TestHarness } from '../support/fleet.ts';
import { waitFor } from '../support/wait.ts';

type Ticket = { subject: string; body: string };

const base = { model: classifyTicket.model, endpoint: classifyTicket.endpoint, input: classifyTicket.input, buildRequest: classifyTicket.buildRequest };

const readsInput = defineTask({
  ...base,
  name: 'reads-input',
  parseOutput: (_output, input: Ticket) => ({ subject: input.subject }),
});

const hookedInputs = new Map<string, unknown>();
const answerOnly = defineTask({
  ...base,
  name: 'answer-only',
  parseOutput: (_output, input: Ticket | undefined) => ({ parserSawInput: input !== undefined }),
  parseOutputUsesInput: false,
});
const answerOnlyHooked = defineTask({
  ...answerOnly,
  name: 'answer-only-hooked',
  onResult: ({ externalId, input }) => {
    hookedInputs.set(externalId, input);
  },
});

let h: TestHarness;

beforeAll(async () => {
  h = await startHarness({ scenario: 'happy', registry: new TaskRegistry([readsInput, answerOnly, answerOnlyHooked] as AnyTask[]), roles: false });
  await h.startFleet();
});
afterAll(async () => {
  await h?.close();
});

async function run(task: string, n: number): Promise<Array<{ external_id: string; output: Record<string, unknown> }>> {
  const items = Array.from({ length: n }, (_, i) => ({ externalId: `${task}-${i}`, input: { subject: `subject ${task} ${i}`, body: 'body' } }));
  await h.ctx.queues.intake.add('intake', { task, items });
  return waitFor(`${n} ${task} items succeeded`, async () => {
    const rows = await query<{ external_id: string; output: Record<string, unknown> }>(
      h.ctx.db,
      `select external_id, output from items where task = $1 and status = 'succeeded' order by external_id`,
      task,
    );
    return rows.length === n ? rows : null;
  });
}

describe('inputs at processing time', () => {
  it('intake stores each input once, in item_inputs, and the item row has none', async () => {
    const rows = await run('reads-input', 5);
    const [stored] = await query<{ inputs: number; subjects: string[] }>(
      h.ctx.db,
      `select count(n.item_id)::int as inputs, array_agg(n.input::jsonb->>'subject' order by i.external_id) as subjects
         from items i left join item_inputs n on n.item_id = i.id where i.task = 'reads-input'`,
    );
    expect(stored!.inputs).toBe(5);
    expect(stored!.subjects).toEqual(rows.map((r) => `subject reads-input ${r.external_id.split('-').at(-1)}`));
    const columns = await query<{ column_name: string }>(h.ctx.db, `select column_name from information_schema.columns where table_schema = current_schema() and table_name = 'items'`);
    expect(columns.map((c) => c.column_name)).not.toContain('input');
  });

  it('a parser that takes the input gets each item its own', async () => {
    const rows = await run('reads-input', 6);
    for (const r of rows) expect(r.output).toEqual({ subject: `subject reads-input ${r.external_id.split('-').at(-1)}` });
  });

  it('an input holding the separator of intake\'s statement, control characters and emoji comes back as it went in', async () => {
    const subject = 'a\u001eb\u001fc\nd\te "quoted" \\ back 😀 é';
    await h.ctx.queues.intake.add('intake', { task: 'reads-input', items: [{ externalId: 'odd-1', input: { subject, body: '\u001e' } }, { externalId: 'odd-2', input: { subject: 'plain', body: 'x' } }] });
    const rows = await waitFor('both odd items succeeded', async () => {
      const r = await query<{ external_id: string; output: { subject: string } }>(
        h.ctx.db,
        `select external_id, output from items where external_id like 'odd-%' and status = 'succeeded' order by external_id`,
      );
      return r.length === 2 ? r : null;
    });
    expect(rows.map((r) => r.output.subject)).toEqual([subject, 'plain']);
  });

  it('a task whose parser ignores the input is judged without it', async () => {
    const rows = await run('answer-only', 6);
    expect(rows.map((r) => r.output)).toEqual(Array(6).fill({ parserSawInput: false }));
  });

  it('hooks get the input even when the parser does not', async () => {
    const rows = await run('answer-only-hooked', 4);
    expect(rows.map((r) => r.output)).toEqual(Array(4).fill({ parserSawInput: false }));
    await waitFor('every hook called', () => hookedInputs.size === 4);
    for (let i = 0; i < 4; i++) expect(hookedInputs.get(`answer-only-hooked-${i}`)).toEqual({ subject: `subject answer-only-hooked ${i}`, body: 'body' });
  });
});
