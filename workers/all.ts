import { runWorkers } from '../src/runtime/main.ts';

/** Every role in one process. */
await runWorkers();
