import { afterAll } from 'vitest';
import { openHarnesses } from './fleet.ts';

// graphile-worker's guard: a test file that leaves a fleet, simulator or connection running fails.
afterAll(async () => {
  if (openHarnesses.size > 0) {
    const n = openHarnesses.size;
    await Promise.all([...openHarnesses].map((h) => h.close().catch(() => undefined)));
    throw new Error(`${n} test harness(es) were left open: close every harness you start`);
  }
});
