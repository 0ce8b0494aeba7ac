-- CreateTable
CREATE TABLE "batches" (
    "id" UUID NOT NULL,
    "task" TEXT NOT NULL,
    "model" TEXT NOT NULL,
    "endpoint" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "held_reason" TEXT,
    "held_since" TIMESTAMPTZ(3),
    "provider_batch_id" TEXT,
    "previous_provider_ids" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "submission" INTEGER NOT NULL DEFAULT 0,
    "token_limit_failures" INTEGER NOT NULL DEFAULT 0,
    "upload_started_at" TIMESTAMPTZ(3),
    "create_started_at" TIMESTAMPTZ(3),
    "file_path" TEXT,
    "input_file_id" TEXT,
    "output_file_id" TEXT,
    "error_file_id" TEXT,
    "request_count" INTEGER NOT NULL DEFAULT 0,
    "bytes" BIGINT NOT NULL DEFAULT 0,
    "estimated_tokens" BIGINT NOT NULL DEFAULT 0,
    "completed_count" INTEGER NOT NULL DEFAULT 0,
    "failed_count" INTEGER NOT NULL DEFAULT 0,
    "provider_status" TEXT,
    "errors" JSONB,
    "last_error" TEXT,
    "input_tokens" BIGINT NOT NULL DEFAULT 0,
    "cached_tokens" BIGINT NOT NULL DEFAULT 0,
    "output_tokens" BIGINT NOT NULL DEFAULT 0,
    "cost_usd" DECIMAL(18,10) NOT NULL DEFAULT 0,
    "sync_cost_usd" DECIMAL(18,10) NOT NULL DEFAULT 0,
    "processing_owner" TEXT,
    "processing_lease_until" TIMESTAMPTZ(3),
    "cancel_requested_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "status_changed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "built_at" TIMESTAMPTZ(3),
    "submitted_at" TIMESTAMPTZ(3),
    "expires_at" TIMESTAMPTZ(3),
    "terminal_at" TIMESTAMPTZ(3),
    "processed_at" TIMESTAMPTZ(3),

    CONSTRAINT "batches_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "items" (
    "id" UUID NOT NULL,
    "task" TEXT NOT NULL,
    "external_id" TEXT NOT NULL,
    "input" JSONB NOT NULL,
    "status" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "requeues" INTEGER NOT NULL DEFAULT 0,
    "batch_id" UUID,
    "estimated_tokens" INTEGER NOT NULL,
    "estimated_bytes" INTEGER NOT NULL,
    "max_output_tokens" INTEGER,
    "available_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "output" JSONB,
    "error_code" TEXT,
    "error_message" TEXT,
    "input_tokens" INTEGER NOT NULL DEFAULT 0,
    "cached_tokens" INTEGER NOT NULL DEFAULT 0,
    "output_tokens" INTEGER NOT NULL DEFAULT 0,
    "cost_usd" DECIMAL(18,10) NOT NULL DEFAULT 0,
    "sync_cost_usd" DECIMAL(18,10) NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "items_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "attempts" (
    "id" BIGSERIAL NOT NULL,
    "item_id" UUID NOT NULL,
    "batch_id" UUID NOT NULL,
    "outcome" TEXT NOT NULL,
    "error_code" TEXT,
    "error_message" TEXT,
    "input_tokens" INTEGER NOT NULL DEFAULT 0,
    "cached_tokens" INTEGER NOT NULL DEFAULT 0,
    "output_tokens" INTEGER NOT NULL DEFAULT 0,
    "cost_usd" DECIMAL(18,10) NOT NULL DEFAULT 0,
    "sync_cost_usd" DECIMAL(18,10) NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "attempts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "rejections" (
    "id" BIGSERIAL NOT NULL,
    "reason" TEXT NOT NULL,
    "task" TEXT,
    "job_id" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "rejections_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "model_limits" (
    "model" TEXT NOT NULL,
    "learned_limit" BIGINT NOT NULL,
    "source" TEXT NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "model_limits_pkey" PRIMARY KEY ("model")
);

-- CreateIndex
CREATE UNIQUE INDEX "batches_provider_batch_id_key" ON "batches"("provider_batch_id");

-- CreateIndex
CREATE INDEX "batches_status_idx" ON "batches"("status");

-- CreateIndex
CREATE INDEX "batches_task_status_idx" ON "batches"("task", "status");

-- CreateIndex
CREATE INDEX "batches_model_status_idx" ON "batches"("model", "status");

-- CreateIndex
CREATE INDEX "items_task_status_available_at_idx" ON "items"("task", "status", "available_at");

-- CreateIndex
CREATE INDEX "items_batch_id_status_idx" ON "items"("batch_id", "status");

-- CreateIndex
CREATE INDEX "items_status_error_code_idx" ON "items"("status", "error_code");

-- CreateIndex
CREATE UNIQUE INDEX "items_task_external_id_key" ON "items"("task", "external_id");

-- CreateIndex
CREATE INDEX "attempts_batch_id_idx" ON "attempts"("batch_id");

-- CreateIndex
CREATE INDEX "attempts_created_at_outcome_idx" ON "attempts"("created_at", "outcome");

-- CreateIndex
CREATE UNIQUE INDEX "attempts_item_id_batch_id_key" ON "attempts"("item_id", "batch_id");

-- CreateIndex
CREATE INDEX "rejections_created_at_idx" ON "rejections"("created_at");

-- AddForeignKey
ALTER TABLE "items" ADD CONSTRAINT "items_batch_id_fkey" FOREIGN KEY ("batch_id") REFERENCES "batches"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "attempts" ADD CONSTRAINT "attempts_item_id_fkey" FOREIGN KEY ("item_id") REFERENCES "items"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "attempts" ADD CONSTRAINT "attempts_batch_id_fkey" FOREIGN KEY ("batch_id") REFERENCES "batches"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
