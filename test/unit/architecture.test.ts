import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error a plain ESM script without types; CI runs it on its own too
import { cycles, importGraph, sourceFiles } from '../../scripts/import-graph.mjs';

const SRC = join(import.meta.dirname, '..', '..', 'src');
const rel = (f: string) => relative(SRC, f).replaceAll('\\', '/');
const files = (sourceFiles(SRC) as string[]).map((f) => ({ path: rel(f), text: readFileSync(f, 'utf8') }));

describe('the shape of src/', () => {
  it('holds SQL only in the data layer (src/store)', () => {
    const sql = /select |insert into|update |delete from|on conflict/i;
    const offenders = files
      .filter((f) => !f.path.startsWith('store/'))
      .flatMap((f) => f.text.split('\n').map((line, i) => ({ where: `${f.path}:${i + 1}`, line })).filter((l) => sql.test(l.line)));
    expect(offenders).toEqual([]);
  });

  it('writes a status only through transition()', () => {
    const statusWrite = /set\s+status\s*=|status\s*=\s*\$\{spec\.to\}/i;
    const writers = files.filter((f) => statusWrite.test(f.text)).map((f) => f.path);
    expect(writers).toEqual(['store/machine.ts']);
  });

  it('has no import cycle', () => {
    const found = (cycles(importGraph(SRC)) as string[][]).map((c) => c.map(rel));
    expect(found).toEqual([]);
  });

  it('runs the pipeline one way: stages never import each other, shared pieces never import a stage', () => {
    const STAGES = ['pipeline/intake.ts', 'pipeline/build.ts', 'pipeline/submit.ts', 'pipeline/poll.ts', 'pipeline/sync.ts', 'pipeline/process/index.ts'];
    const isStage = (p: string) => STAGES.includes(p) || (p.startsWith('pipeline/process/') && p !== 'pipeline/process/index.ts');
    const stageOf = (p: string) => (p.startsWith('pipeline/process/') ? 'process' : p);
    const graph = importGraph(SRC) as Map<string, string[]>;
    const wrong: string[] = [];
    for (const [from, deps] of graph) {
      const f = rel(from);
      if (!f.startsWith('pipeline/') || f === 'pipeline/reconcile.ts') continue; // the reconciler stands beside the stages
      for (const to of deps.map(rel)) {
        if (!isStage(to)) continue;
        if (!isStage(f) || stageOf(f) !== stageOf(to)) wrong.push(`${f} -> ${to}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('keeps the store below everything: it imports nothing from the pipeline, CLI, admin or runtime', () => {
    const graph = importGraph(SRC) as Map<string, string[]>;
    const upward = [...graph]
      .filter(([from]) => rel(from).startsWith('store/'))
      .flatMap(([from, deps]) => deps.map(rel).filter((to) => /^(pipeline|cli|admin|runtime|monitoring|demo|client)\//.test(to)).map((to) => `${rel(from)} -> ${to}`));
    expect(upward).toEqual([]);
  });
});
