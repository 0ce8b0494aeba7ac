import { runWorkers } from '../src/runtime/main.ts';

await runWorkers(['sync']);
