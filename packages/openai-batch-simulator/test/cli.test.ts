import { spawn } from 'node:child_process';
import { once } from 'node:events';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';

describe('runSimulatorCli', () => {
  it('serves until SIGTERM', async () => {
    const script = `import('./src/index.ts').then((m) => m.runSimulatorCli(process.argv.slice(1))).catch((e) => { console.error(e.message); process.exit(2); })`;
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', script, 'simulator', '--port', '0', '--scenario', 'flaky', '--seed', '9', '--time-scale', '5000'], {
      cwd: new URL('../', import.meta.url).pathname,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const deadline = Date.now() + 90_000; // starting node + tsx on a loaded machine: a hang detector, not a speed claim
      while (!/openai-batch-simulator: http:\/\/\S+\/v1.*\n/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const url = /openai-batch-simulator: (http:\/\/\S+\/v1)/.exec(out)?.[1];
      expect(url, out).toBeDefined();
      expect(out).toContain('scenario flaky, seed 9, time x5000');
      const client = new OpenAI({ apiKey: 'sk-test-cli', baseURL: url, maxRetries: 5 });
      expect((await client.batches.list()).data).toEqual([]);
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 180_000);
});
