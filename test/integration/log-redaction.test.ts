import { afterEach, expect, it } from 'vitest';
import { QueueEvents } from 'bullmq';
import { query } from '../../src/store/sql.ts';
import { captureLogs } from '../../src/logging/index.ts';
import { QUEUES } from '../../src/queues/names.ts';
import { startHarness, type TestHarness } from '../support/fleet.ts';
import { waitFor } from '../support/wait.ts';

const FAKE_KEY = 'sk-proj-FAKEKEY0123456789abcdefFAKEKEY0123456789';
const PROMPT = 'SECRET-PROMPT-TEXT the customer account number is 4111';

let h: TestHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function runWithLogs(env: Record<string, string>): Promise<string> {
  const logs = captureLogs();
  h = await startHarness({
    apiKey: FAKE_KEY,
    logDestination: logs.stream,
    // Control-plane faults and bad lines, so errors (with the SDK's request details) get logged too.
    scenario: { name: 'noisy', httpFaults: { rate429: 0.1, rate500: 0.05 }, lineFaults: { invalidJson: 0.2, refusal: 0.1 } },
    // The simulator lists what it created at once, so after an injected 500 on create the
    // submitter needs only a short visibility wait before it looks (the default is 60 s).
    env: { LOG_LEVEL: 'trace', PROVIDER_VISIBILITY_MS: '5000', ...env },
  });
  const items = Array.from({ length: 40 }, (_, i) => ({ externalId: `r${i}`, input: { subject: `${PROMPT} #${i}`, body: `${PROMPT}. Please help.` } }));
  await h.ctx.queues.intake.add('intake', { task: 'classify-ticket', items });
  const events = new QueueEvents(QUEUES.intake, { connection: h.ctx.redis.duplicate(), prefix: h.prefix });
  try {
    await events.waitUntilReady();
    const bad = await h.ctx.queues.intake.add('intake', { task: 'classify-ticket', externalId: 'bad', input: { subject: PROMPT } });
    expect((await bad.waitUntilFinished(events, 60_000)).rejected).toHaveLength(1);
  } finally {
    await events.close();
  }
  await waitFor('all items final', async () => {
    const [r] = await query<{ n: number }>(h!.ctx.db, `select count(*)::int as n from items where status in ('succeeded', 'failed')`);
    return r!.n === 40;
  }, 240_000);
  return logs.text();
}

it('a whole run logged at trace level shows neither the API key nor any prompt text', async () => {
  const text = await runWithLogs({});
  expect(text.split('\n').length).toBeGreaterThan(10);
  expect(text).toMatch(/batch submitted/);
  expect(text).not.toContain(FAKE_KEY);
  expect(text).not.toContain('FAKEKEY');
  expect(text).not.toContain('SECRET-PROMPT-TEXT');
  expect(text).not.toContain('4111');
}, 300_000);

it('LOG_BODIES=true is the opt-in for bodies, and keys stay hidden even then', async () => {
  const text = await runWithLogs({ LOG_BODIES: 'true' });
  expect(text).not.toContain('FAKEKEY');
}, 300_000);
