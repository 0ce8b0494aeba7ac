import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenAIBatchProvider } from '../../src/provider/openai-provider.ts';
import { startSimulator, type SimulatorHandle } from 'openai-batch-simulator';

describe('OpenAIBatchProvider files over HTTP (simulator)', () => {
  let sim: SimulatorHandle;
  let dir: string;
  beforeAll(async () => {
    sim = await startSimulator({ port: 0, seed: 3, timeScale: 0 });
    dir = await mkdtemp(join(tmpdir(), 'bf-file-lines-'));
  });
  afterAll(async () => {
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('uploads a file from disk and streams its lines back unchanged', async () => {
    const provider = new OpenAIBatchProvider({ apiKey: 'sk-file-lines', baseURL: sim.url });
    const lines = Array.from({ length: 3_000 }, (_, i) =>
      JSON.stringify({ custom_id: `r-${i}`, method: 'POST', url: '/v1/chat/completions', body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `ünïcödé 🎉 ${'word '.repeat(i % 300)}` }] } }),
    );
    const path = join(dir, 'input.jsonl');
    await writeFile(path, `${lines.join('\n')}\n`);
    const { id } = await provider.uploadFile(path, 'batchfleet-test.jsonl');
    const back: string[] = [];
    for await (const line of provider.fileLines(id)) back.push(line);
    expect(back).toEqual(lines);
  });
});
