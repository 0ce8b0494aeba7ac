-- Partial indexes on items: every status move rewrites the row, and PostgreSQL then adds an entry to
-- every index whose predicate the new row meets. Full indexes on (task, status, ...), (batch_id, status)
-- and (status, error_code) took an entry on every move of every item; these take one only while the
-- item is in the state the hot queries look for (queued for the claim, in a batch for the file and
-- the verdicts, failed for the dead letter). Final items keep only the primary key and (task, external_id).
-- Prisma's schema language cannot express partial indexes, so schema.prisma does not list them:
-- keep them when you create a migration with `prisma migrate dev` (it would propose to drop them).

DROP INDEX IF EXISTS "items_task_status_available_at_idx";
DROP INDEX IF EXISTS "items_batch_id_status_idx";
DROP INDEX IF EXISTS "items_status_error_code_idx";

-- The claim (oldest available first), the next-available delay, the build policy's summary.
CREATE INDEX "items_queued_idx" ON "items" ("task", "available_at", "id") WHERE "status" = 'queued';
-- A batch's file pages (by id), its pending items, and the batch-wide moves.
CREATE INDEX "items_in_batch_idx" ON "items" ("batch_id", "id") WHERE "status" IN ('batched', 'submitted');
-- The dead letter: failures by task and reason, operator retries.
CREATE INDEX "items_failed_idx" ON "items" ("task", "error_code") WHERE "status" = 'failed';
