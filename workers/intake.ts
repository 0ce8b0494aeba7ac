import { runEntry } from '../src/runtime/entry.ts';
import { runWorkers } from '../src/runtime/main.ts';

await runEntry(() => runWorkers(['intake']));
