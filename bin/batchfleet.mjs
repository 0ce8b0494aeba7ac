#!/usr/bin/env node
// Runs the TypeScript CLI without a build step: tsx's ESM loader is registered in this process,
// then src/cli/main.ts is imported. `npx batchfleet …` from the project root resolves to this file.
import { register } from 'tsx/esm/api';

register();
const { main, exitWhenDone } = await import(new URL('../src/cli/main.ts', import.meta.url).href);
exitWhenDone(await main(process.argv.slice(2)));
