-- The three foreign keys on the hot path are dropped: items.batch_id -> batches and
-- attempts.item_id / attempts.batch_id -> items / batches. Each ran a per-row check
-- (`SELECT 1 … FOR KEY SHARE` on the parent) for every item a claim moved into a batch and twice
-- for every attempt a verdict wrote: about a tenth of PostgreSQL's CPU for 50,000 items.
-- Referential integrity holds by construction instead: a claim sets batch_id to the batch row it
-- inserted in the same transaction, an attempt row is inserted from the RETURNING of the item move
-- that wrote it, and batchfleet deletes neither items nor batches. schema.prisma declares
-- `relationMode = "prisma"` so that Prisma keeps the relations and does not propose the keys again.
-- A future retention job must delete attempts before their items and batches, as the keys did.
ALTER TABLE "attempts" DROP CONSTRAINT IF EXISTS "attempts_item_id_fkey";
ALTER TABLE "attempts" DROP CONSTRAINT IF EXISTS "attempts_batch_id_fkey";
ALTER TABLE "items" DROP CONSTRAINT IF EXISTS "items_batch_id_fkey";
