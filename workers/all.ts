import { runEntry } from '../src/runtime/entry.ts';
import { runWorkers } from '../src/runtime/main.ts';

/** Every role in one process. */
await runEntry(() => runWorkers());
