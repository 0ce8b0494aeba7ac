import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { deletePrefix, testPrefix } from '../support/redis.ts';
import { ensureBuilt, ROOT } from './built.ts';

interface Probe { ms: number; exports: string[]; modules: string[] }

async function probe(specifier: string): Promise<Probe> {
  const { stdout } = await promisify(execFile)(process.execPath, [join(ROOT, 'test', 'package', 'probe-imports.mjs'), specifier], { cwd: ROOT, timeout: 60_000 });
  return JSON.parse(stdout) as Probe;
}

beforeAll(ensureBuilt, 300_000);

describe('importing batchfleet/client with plain node', () => {
  it('loads the built client only: no fleet, no simulator, no tokenizer, no database driver', async () => {
    const p = await probe('batchfleet/client');
    console.log(`batchfleet/client: ${p.ms.toFixed(0)} ms, ${p.modules.length} modules`);
    expect(p.exports).toContain('createClient');
    const ours = p.modules.filter((m) => m.includes('/dist/src/'));
    expect(ours.length).toBeGreaterThan(0);
    expect(p.modules.filter((m) => m.includes('/src/') && m.endsWith('.ts'))).toEqual([]);
    const forbidden = [/tiktoken/, /\/simulator\//, /\/pipeline\//, /\/runtime\//, /@prisma/, /\/node_modules\/pg\//, /\/node_modules\/bullmq\//, /\/generated\/prisma\//, /\/admin\//, /\/tokens\//];
    for (const pattern of forbidden) expect(p.modules.filter((m) => pattern.test(m)), String(pattern)).toEqual([]);
  });

  it('lets the process exit once a client that watched, consumed and waited is closed', async () => {
    const prefix = testPrefix('exit');
    const script = `
      import { createClient, ResultTimeoutError } from 'batchfleet/client';
      import { classifyTicket } from 'batchfleet/tasks';
      const client = createClient({ redis: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', prefix: '${prefix}', tasks: [classifyTicket] });
      const consumer = await client.onResult(classifyTicket, () => undefined);
      const late = await client.wait(['nobody'], { timeout: 300 }).catch((e) => e);
      if (!(late instanceof ResultTimeoutError)) throw new Error('expected a timeout, got ' + late);
      const status = await client.status(classifyTicket);
      if (status.held !== null) throw new Error('unexpected hold');
      await consumer.close();
      await client.close();
      console.log('closed');`;
    // No process.exit: the child ends only if the client left no connection or timer behind.
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, timeout: 60_000 });
    expect(stdout.trim()).toBe('closed');
    await deletePrefix(prefix);
  });

  it('loads the fleet from the main entry point, for contrast', async () => {
    const p = await probe('batchfleet');
    console.log(`batchfleet: ${p.ms.toFixed(0)} ms, ${p.modules.length} modules`);
    expect(p.exports).toContain('startFleet');
    expect(p.modules.some((m) => /\/pipeline\//.test(m))).toBe(true);
  });
});
