/**
 * Time-based behaviour checked by moving the fleet's injected clock, never by waiting: expiry past
 * its grace period, the stuck-batch report, and the spend cap's UTC day.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { sampleItems } from '../../src/demo/samples.ts';
import { build } from '../../src/pipeline/build.ts';
import { intake } from '../../src/pipeline/intake.ts';
import { poll } from '../../src/pipeline/poll.ts';
import { processBatch } from '../../src/pipeline/process/index.ts';
import { spendToday } from '../../src/pipeline/spend.ts';
import { submit } from '../../src/pipeline/submit.ts';
import { alertRulesFrom, evaluateAlerts } from '../../src/monitoring/alerts.ts';
import { Lease } from '../../src/pipeline/lease.ts';
import * as batches from '../../src/store/batches.ts';
import { stuckBatches } from '../../src/store/read-models/index.ts';
import { startHarness, type TestHarness } from '../support/fleet.ts';
import { waitFor } from '../support/wait.ts';

const HOUR = 3_600_000;

/** A clock that stands still until a test moves it. */
function fakeClock(iso?: string) {
  let t = iso ? Date.parse(iso) : Date.now();
  return { now: () => new Date(t), advance: (ms: number) => void (t += ms), set: (at: string) => void (t = Date.parse(at)) };
}

let h: TestHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function oneSubmittedBatch(harness: TestHarness, n: number, runId: string): Promise<string> {
  const items = sampleItems(runId, n).filter((i) => i.task === 'classify-ticket');
  await intake(harness.ctx, { task: 'classify-ticket', items: items.map(({ externalId, input }) => ({ externalId, input })) });
  const { batches: built } = await build(harness.ctx, 'classify-ticket');
  expect(built).toHaveLength(1);
  expect(await submit(harness.ctx, built[0]!)).toMatchObject({ kind: 'submitted' });
  return built[0]!;
}

describe('the injected clock', () => {
  it('cancels a batch past its window plus grace, and reports it stuck, when the clock moves on', async () => {
    const clock = fakeClock(); // starts at the wall clock: the provider's expires_at is real time
    // A slow provider: the batch stays in progress for hours of simulated time.
    h = await startHarness({ roles: false, now: clock.now, scenario: { name: 'slow-clock', timing: { validationSeconds: 1, minProcessingSeconds: 10_000_000 } }, env: { EXPIRY_GRACE_MS: String(HOUR), STUCK_AFTER_MS: String(2 * HOUR) } });
    const id = await oneSubmittedBatch(h, 20, 'clock-expiry');
    expect(await poll(h.ctx, id)).toMatchObject({ kind: 'open' });
    expect((await batches.get(h.ctx.db, id))!.cancelRequestedAt).toBeNull();
    expect(await stuckBatches(h.ctx.db, 2 * HOUR, clock.now())).toEqual([]);

    // Three hours on: stuck in one status, not yet past its window.
    clock.advance(3 * HOUR);
    const stuck = await stuckBatches(h.ctx.db, 2 * HOUR, clock.now());
    expect(stuck.map((b) => b.id)).toEqual([id]);
    expect(stuck[0]!.inStatusMs).toBeGreaterThanOrEqual(3 * HOUR - 1_000);
    const alerts = await evaluateAlerts(h.ctx.db, alertRulesFrom(h.config, { stuckAfterMs: 2 * HOUR }), clock.now());
    expect(alerts.filter((a) => a.kind === 'stuck_batch').map((a) => a.details.batchId)).toEqual([id]);
    await poll(h.ctx, id);
    expect((await batches.get(h.ctx.db, id))!.cancelRequestedAt).toBeNull();

    // 24 h window + 1 h grace passed (with room for the simulator's accelerated clock): the poll cancels it.
    clock.advance(26 * HOUR);
    await poll(h.ctx, id);
    const after = await batches.get(h.ctx.db, id);
    expect(after!.cancelRequestedAt?.toISOString()).toBe(clock.now().toISOString());
    const remote = await h.ctx.provider.retrieveBatch(after!.providerBatchId!);
    expect(['cancelling', 'cancelled']).toContain(remote.status);
  });

  it('holds submissions at the daily spend cap and lets them go when the UTC day rolls over', async () => {
    const clock = fakeClock('2026-12-04T23:00:00.000Z');
    h = await startHarness({ roles: false, now: clock.now, env: { DAILY_SPEND_CAP_USD: '0.0000001' } });
    const first = await oneSubmittedBatch(h, 20, 'clock-spend-a');
    await waitFor('the first batch to end', async () => (await poll(h!.ctx, first)).kind === 'terminal');
    expect(await processBatch(h.ctx, first)).toMatchObject({ kind: 'processed' });
    const spent = await spendToday(h.ctx);
    expect(spent).toBeGreaterThan(0.0000001);

    const items = sampleItems('clock-spend-b', 20).filter((i) => i.task === 'classify-ticket');
    await intake(h.ctx, { task: 'classify-ticket', items: items.map(({ externalId, input }) => ({ externalId, input })) });
    const { batches: built } = await build(h.ctx, 'classify-ticket');
    const held = await submit(h.ctx, built[0]!);
    expect(held).toMatchObject({ kind: 'held' });
    expect((held as { reason: string }).reason).toMatch(/daily spend cap reached/);
    expect((await batches.get(h.ctx.db, built[0]!))!.heldReason).toMatch(/daily spend cap/);

    // Midnight UTC: a new day with nothing spent yet.
    clock.set('2026-12-05T00:00:01.000Z');
    expect(await spendToday(h.ctx)).toBe(0);
    expect(await submit(h.ctx, built[0]!)).toMatchObject({ kind: 'submitted' });
    expect((await batches.get(h.ctx.db, built[0]!))!.heldReason).toBeNull();
  });

  it("frees a dead holder's lease once the clock passes LEASE_MS, and not before", async () => {
    const clock = fakeClock();
    h = await startHarness({ roles: false, now: clock.now, scenario: { name: 'slow-clock', timing: { validationSeconds: 1, minProcessingSeconds: 10_000_000 } }, env: { LEASE_MS: '15000' } });
    const id = await oneSubmittedBatch(h, 5, 'clock-lease');
    await h.ctx.provider.cancelBatch((await batches.get(h.ctx.db, id))!.providerBatchId!);
    await waitFor('the batch to end', async () => (await poll(h!.ctx, id)).kind === 'terminal');
    const dead = await Lease.take(h.ctx, id, 'worker-that-dies', ['cancelled'], 'batch');
    expect(dead).toBeDefined();
    await dead!.release(); // stops renewing, as a SIGKILL would; the row still names it
    expect(await Lease.take(h.ctx, id, 'another-worker', ['cancelled'], 'batch')).toBeUndefined();
    clock.advance(14_000);
    expect(await Lease.take(h.ctx, id, 'another-worker', ['cancelled'], 'batch')).toBeUndefined();
    clock.advance(2_000);
    const taken = await Lease.take(h.ctx, id, 'another-worker', ['cancelled'], 'batch');
    expect(taken?.batch.id).toBe(id);
    await taken!.release(true);
    const outcome = await processBatch(h.ctx, id);
    expect(outcome.kind).toBe('processed');
    const t = outcome as { succeeded: number; retried: number; failed: number; requeued: number };
    expect(t.succeeded + t.retried + t.failed + t.requeued).toBe((await batches.get(h.ctx.db, id))!.requestCount);
  });
});
