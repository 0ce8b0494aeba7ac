-- The batch and item state machines, enforced by the database too (src/store/batch-states.ts,
-- src/store/item-states.ts), and the batch mode in its own column instead of provider_status = 'sync'.
-- Existing rows keep their data: sync chunks are recognised by their old marker.

ALTER TABLE "batches" ADD COLUMN "mode" TEXT NOT NULL DEFAULT 'batch';
UPDATE "batches" SET "mode" = 'sync', "provider_status" = NULL WHERE "provider_status" = 'sync';

ALTER TABLE "batches" ADD CONSTRAINT "batches_mode_check" CHECK ("mode" IN ('batch', 'sync'));
ALTER TABLE "batches" ADD CONSTRAINT "batches_status_check" CHECK ("status" IN (
  'building', 'built', 'submitting', 'validating', 'in_progress', 'finalizing', 'cancelling',
  'completed', 'expired', 'failed', 'cancelled', 'processed'));
ALTER TABLE "items" ADD CONSTRAINT "items_status_check" CHECK ("status" IN (
  'queued', 'batched', 'submitted', 'succeeded', 'failed', 'cancelled'));
ALTER TABLE "attempts" ADD CONSTRAINT "attempts_outcome_check" CHECK ("outcome" IN (
  'succeeded', 'retry', 'failed', 'not_executed'));

CREATE INDEX "batches_mode_status_idx" ON "batches"("mode", "status");
