import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario, NAMED_SCENARIOS, ScenarioError, startSimulator } from '../src/index.ts';
import { chatLine, chatLines, runBatch, startTestSimulator } from './helpers.ts';

function scenarioFile(content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sim-scenario-'));
  const path = join(dir, 'scenario.json');
  writeFileSync(path, content);
  return path;
}

describe('scenarios', () => {
  it('loads every named scenario', () => {
    for (const name of NAMED_SCENARIOS) expect(loadScenario(name).name).toBe(name);
    const happy = loadScenario('happy');
    expect(Object.values(happy.lineFaults).every((r) => r === 0)).toBe(true);
    expect(happy.httpFaults.rate429 + happy.httpFaults.rate500 + happy.httpFaults.rate503).toBe(0);
    const hostile = loadScenario('hostile');
    expect(hostile.lineFaults.http400).toBe(0.005);
    const retryable = hostile.lineFaults.http500 + hostile.lineFaults.invalidJson + hostile.lineFaults.schemaViolation + hostile.lineFaults.truncated + hostile.lineFaults.refusal + hostile.lineFaults.contentFilter;
    expect(retryable ** 6 * 10_000).toBeLessThan(0.05); // 10k items, 6 attempts: < 5 % chance any item fails every time
    expect(loadScenario('token-limit').limits.defaultEnqueuedTokens).toBe(20_000);
    const realistic = loadScenario('realistic');
    expect(realistic.timing.secondsPerRequest).toBe(3);
    expect(realistic.httpFaults.rate429).toBe(loadScenario('flaky').httpFaults.rate429); // extends flaky
  });

  it('loads a JSON file that extends a named scenario', () => {
    const s = loadScenario(scenarioFile(JSON.stringify({ extends: 'flaky', name: 'mine', lineFaults: { refusal: 0.2 } })));
    expect(s.name).toBe('mine');
    expect(s.lineFaults.refusal).toBe(0.2);
    expect(s.lineFaults.http500).toBe(0.01);
  });

  it('explains what is wrong, naming the field', () => {
    expect(() => loadScenario('nope')).toThrow(ScenarioError);
    expect(() => loadScenario('nope')).toThrow(/Unknown scenario "nope".*happy, flaky, hostile, token-limit, realistic/);
    expect(() => loadScenario(scenarioFile('{ not json'))).toThrow(/is not valid JSON/);
    expect(() => loadScenario(scenarioFile('[]'))).toThrow(/must be a JSON object/);
    expect(() => loadScenario(scenarioFile(JSON.stringify({ lineFaults: { http500: 2 } })))).toThrow(/lineFaults\.http500: Too big/);
    expect(() => loadScenario(scenarioFile(JSON.stringify({ httpFaults: { rate249: 0.1 } })))).toThrow(/httpFaults: Unrecognized key: "rate249"/);
    expect(() => loadScenario({ lineFaults: { http500: 0.6, refusal: 0.6 } })).toThrow(/lineFaults: the line fault rates must add up to at most 1/);
    expect(() => loadScenario({ timing: { validationSeconds: -1 } })).toThrow(/timing\.validationSeconds/);
    expect(() => loadScenario({ webhook: { url: 'not a url' } })).toThrow(/webhook\.url/);
    expect(() => loadScenario({ extends: 'nope' } as never)).toThrow(/Unknown scenario "nope"/);
  });

  it('startSimulator rejects a bad scenario', async () => {
    await expect(startSimulator({ scenario: { seed: 1.5 } })).rejects.toThrow(/seed/);
  });
});

describe('determinism', () => {
  const lines = [
    ...chatLines(30, 'p'),
    ...Array.from({ length: 10 }, (_, i) =>
      chatLine(`j-${i}`, `Ticket ${i}`, {
        response_format: {
          type: 'json_schema',
          json_schema: { name: 'x', schema: { type: 'object', properties: { label: { enum: ['a', 'b', 'c', 'd'] }, score: { type: 'integer' } }, required: ['label', 'score'] } },
        },
      }),
    ),
  ];
  const faults = { http500: 0.1, invalidJson: 0.1, schemaViolation: 0.1, truncated: 0.1, refusal: 0.05, contentFilter: 0.05 };

  async function run(seed: number) {
    const t = await startTestSimulator({ seed, scenario: { lineFaults: faults } });
    const client = t.newClient('sk-test-determinism');
    const { batch, output, errors } = await runBatch(t, lines, { client });
    const strip = (l: { custom_id: string; id: string; response: { body: Record<string, unknown> } | null }) => {
      const body = l.response ? { ...l.response.body, created: undefined } : null;
      return JSON.stringify({ ...l, response: l.response ? { ...l.response, body } : null });
    };
    return { counts: batch.request_counts, lines: [...output, ...errors].sort((a, b) => a.custom_id.localeCompare(b.custom_id)).map(strip) };
  }

  it('the same seed gives the same results (content, faults, line ids); another seed does not', async () => {
    const a = await run(42);
    const b = await run(42);
    expect(b).toEqual(a);
    const c = await run(43);
    expect(c.lines).not.toEqual(a.lines);
  });

  it('every line, request and completion id of a file is its own, and the output order is not the input order', async () => {
    const t = await startTestSimulator({ seed: 7 });
    const { output } = await runBatch(t, chatLines(200, 'u'), { client: t.newClient('sk-test-ids') });
    expect(output).toHaveLength(200);
    const ids = output.flatMap((l) => {
      const r = l.response!;
      return [l.id, r.request_id, String(r.body.id)];
    });
    expect(new Set(ids).size).toBe(600);
    const order = output.map((l) => l.custom_id);
    expect(order).not.toEqual([...order].sort((a, b) => Number(a.slice(2)) - Number(b.slice(2))));
    expect(new Set(order).size).toBe(200);
  });
});
