#!/usr/bin/env node
/**
 * The import graph of src/ (static imports and re-exports, type-only ones included) and its
 * cycles, found with Tarjan's strongly connected components. `node scripts/import-graph.mjs`
 * prints every cycle and exits 1 when there is one; the architecture test runs the same check.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const IMPORT = /(?:^|\n)\s*(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\sfrom\s+)?['"](\.{1,2}\/[^'"]+)['"]/g;

/** Every .ts file under `root`, skipping generated code. */
export function sourceFiles(root, skip = ['generated']) {
  const out = [];
  for (const name of readdirSync(root)) {
    const path = join(root, name);
    if (statSync(path).isDirectory()) {
      if (!skip.includes(name)) out.push(...sourceFiles(path, skip));
    } else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** file → the files it imports (relative imports only). */
export function importGraph(root) {
  const graph = new Map();
  for (const file of sourceFiles(root)) {
    const text = readFileSync(file, 'utf8');
    const deps = new Set();
    for (const m of text.matchAll(IMPORT)) deps.add(resolve(dirname(file), m[1]));
    graph.set(file, [...deps].filter((d) => d.startsWith(root)));
  }
  return graph;
}

/** Strongly connected components with more than one file (or a file importing itself). */
export function cycles(graph) {
  let index = 0;
  const stack = [];
  const onStack = new Set();
  const idx = new Map();
  const low = new Map();
  const found = [];
  const visit = (v) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const scc = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return found;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', process.argv[2] ?? 'src');
  const found = cycles(importGraph(root));
  for (const c of found) console.log(`cycle: ${c.map((f) => relative(process.cwd(), f)).join(' <-> ')}`);
  console.log(found.length === 0 ? `no import cycles in ${relative(process.cwd(), root) || '.'}` : `${found.length} import cycle(s)`);
  process.exit(found.length === 0 ? 0 : 1);
}
