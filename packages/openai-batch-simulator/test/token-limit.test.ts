import { describe, expect, it } from 'vitest';
import { createReferenceCounter, organizationForKey } from '../src/index.ts';
import { advanceUntil, chatLines, createBatch, startTestSimulator, waitForStatus } from './helpers.ts';

const counter = createReferenceCounter();
const tokensOf = (lines: Array<Record<string, unknown>>): number =>
  lines.reduce((a, l) => a + counter.countRequest('/v1/chat/completions', l.body as Record<string, unknown>), 0);

const LIMIT_RE = /^Enqueued token limit reached for (\S+) in organization (org-[A-Za-z0-9]+)\. Limit: ([\d,]+) enqueued tokens\. Please try again once some in_progress batches have been completed\.$/;

describe('enqueued token limit', () => {
  it('fails a batch that would exceed the limit with the real message, and frees tokens when batches end', async () => {
    const a = chatLines(10, 'a');
    const perBatch = tokensOf(a);
    const limit = Math.floor(perBatch * 1.5); // room for one batch, not two
    const t = await startTestSimulator({ tokenLimits: { 'gpt-4o-mini': limit } });

    const first = await createBatch(t.client, a);
    const running = await advanceUntil(t, first.id, 'in_progress');
    expect(t.sim.stats().clients[Object.keys(t.sim.stats().clients)[0]!]!.enqueuedTokens).toEqual({ 'gpt-4o-mini-2024-07-18': perBatch });

    const second = await createBatch(t.client, chatLines(10, 'b'));
    const failed = await advanceUntil(t, second.id, ['failed', 'in_progress'], 10);
    expect(failed.status).toBe('failed');
    expect(running.status).toBe('in_progress');
    const [err] = failed.errors!.data!;
    expect(err).toEqual({ code: 'token_limit_exceeded', message: expect.stringMatching(LIMIT_RE), param: null, line: null });
    const m = LIMIT_RE.exec(err!.message!)!;
    expect(m[1]).toBe('gpt-4o-mini');
    expect(m[2]).toBe(organizationForKey(t.apiKey));
    expect(Number(m[3]!.replace(/,/g, ''))).toBe(limit);
    expect(m[3]).toBe(limit.toLocaleString('en-US'));

    // The first batch ends -> its tokens are freed -> a third batch runs.
    await advanceUntil(t, first.id, 'completed');
    const third = await createBatch(t.client, chatLines(10, 'c'));
    expect((await advanceUntil(t, third.id, ['in_progress', 'failed'], 10)).status).toBe('in_progress');
  });

  it('counts per organization (API key) and per model; snapshot keys match aliases', async () => {
    const lines = chatLines(5);
    const t = await startTestSimulator({ tokenLimits: { 'gpt-4o-mini': tokensOf(lines) } });
    const first = await createBatch(t.client, lines);
    await advanceUntil(t, first.id, 'in_progress');
    // another key = another organization: not affected
    const other = t.newClient();
    const o = await createBatch(other, chatLines(5, 'o'));
    expect((await advanceUntil(t, o.id, ['in_progress', 'failed'], 10, 100, other)).status).toBe('in_progress');
    // another model: its own (default) limit
    const m = await createBatch(t.client, chatLines(5, 'm', { model: 'gpt-4o' }));
    expect((await advanceUntil(t, m.id, ['in_progress', 'failed'], 10)).status).toBe('in_progress');
    // dated snapshot of the same model shares the limit
    const s = await createBatch(t.client, chatLines(1, 's', { model: 'gpt-4o-mini-2024-07-18' }));
    expect((await advanceUntil(t, s.id, ['in_progress', 'failed'], 10)).status).toBe('failed');
  });

  it('the token-limit scenario has a small limit; cancelled batches free their tokens too', async () => {
    const t = await startTestSimulator({ scenario: 'token-limit' });
    expect(t.sim.scenario.limits.defaultEnqueuedTokens).toBe(20_000);
    const big = chatLines(1, 'big').map((l) => ({ ...l, body: { ...(l.body as object), messages: [{ role: 'user', content: 'word '.repeat(12_000) }] } }));
    const b1 = await createBatch(t.client, big);
    expect((await advanceUntil(t, b1.id, ['in_progress', 'failed'], 10)).status).toBe('in_progress');
    const b2 = await createBatch(t.client, chatLines(1, 'x2').map((l) => ({ ...l, body: { ...(l.body as object), messages: [{ role: 'user', content: 'word '.repeat(9_000) }] } })));
    expect((await advanceUntil(t, b2.id, ['in_progress', 'failed'], 10)).errors?.data?.[0]?.message).toContain('Limit: 20,000 enqueued tokens.');
    await t.client.batches.cancel(b1.id);
    await advanceUntil(t, b1.id, 'cancelled');
    const b3 = await createBatch(t.client, chatLines(1, 'x3').map((l) => ({ ...l, body: { ...(l.body as object), messages: [{ role: 'user', content: 'word '.repeat(9_000) }] } })));
    expect((await waitForStatus(t.client, b3.id, 'validating')).status).toBe('validating');
    expect((await advanceUntil(t, b3.id, ['in_progress', 'failed'], 10)).status).toBe('in_progress');
  });
});
