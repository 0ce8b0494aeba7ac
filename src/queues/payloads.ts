import { z } from 'zod';

/** One producer item: the producer's own id and the task's input. */
export const intakeItemSchema = z.object({
  externalId: z.string().min(1, 'externalId must not be empty').max(256, 'externalId is longer than 256 characters'),
  input: z.unknown().refine((v) => v !== undefined && v !== null, 'input is missing'),
});

/** An intake job: one item (`externalId` + `input`) or many (`items`), for one task. */
export const intakePayloadSchema = z.union([
  z.object({ task: z.string().min(1), items: z.array(intakeItemSchema).min(1, 'items is empty').max(10_000, 'more than 10,000 items in one job') }).strict(),
  z.object({ task: z.string().min(1), externalId: intakeItemSchema.shape.externalId, input: intakeItemSchema.shape.input }).strict(),
]);
export type IntakePayload = z.infer<typeof intakePayloadSchema>;

export const buildPayloadSchema = z.object({ task: z.string().min(1) });
export type BuildPayload = z.infer<typeof buildPayloadSchema>;

export const submitPayloadSchema = z.object({ batchId: z.string().uuid() });
export type SubmitPayload = z.infer<typeof submitPayloadSchema>;

export const pollPayloadSchema = z.object({
  batchId: z.string().uuid(),
  intervalMs: z.number().int().positive().optional(),
  lastStatus: z.string().optional(),
});
export type PollPayload = z.infer<typeof pollPayloadSchema>;

export const processPayloadSchema = z.object({ batchId: z.string().uuid() });
export type ProcessPayload = z.infer<typeof processPayloadSchema>;

/** Token usage summed over an item's attempts. */
export const resultUsageSchema = z.object({
  inputTokens: z.number().int().nonnegative(),
  cachedTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
});
export type ResultUsage = z.infer<typeof resultUsageSchema>;

/** One attempt of an item, as a failed result's history lists it (oldest first). */
export const attemptRecordSchema = z.object({
  batchId: z.string().nullable(),
  outcome: z.string(),
  errorCode: z.string().nullable(),
  errorMessage: z.string().nullable(),
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
  costUsd: z.number(),
  at: z.string(),
});
export type AttemptRecord = z.infer<typeof attemptRecordSchema>;

/**
 * One final result, as a results job carries it (version 1; a job carries many, see
 * `resultChunkSchema`). `payload: 'ids'` messages (the task's setting, or an output above
 * `maxPayloadBytes`, then `outputOmitted: 'too_large'`) carry the ids and status only; the rest is
 * in PostgreSQL. `idempotenceKey`: the same final result always has the same key, and a later
 * final result of the same item (after a manual retry) a new one.
 */
export const resultMessageSchema = z.object({
  v: z.literal(1),
  payload: z.enum(['full', 'ids']),
  idempotenceKey: z.string().min(1),
  itemId: z.string().min(1),
  externalId: z.string().min(1),
  task: z.string().min(1),
  status: z.enum(['succeeded', 'failed']),
  finishedAt: z.string(),
  attempts: z.number().int().nonnegative(),
  requeues: z.number().int().nonnegative(),
  output: z.unknown().optional(),
  outputOmitted: z.literal('too_large').optional(),
  usage: resultUsageSchema.optional(),
  costUsd: z.number().optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  history: z.array(attemptRecordSchema).optional(),
});
export type ResultMessage = z.infer<typeof resultMessageSchema>;

/**
 * What a job on `results.<task>` carries: the result messages of one committed chunk (version 1,
 * `kind: 'results'`), at most the task's `delivery.maxJobResults` of them and `delivery.maxJobBytes`
 * of JSON (a single larger message goes alone).
 */
export const resultChunkSchema = z.object({
  v: z.literal(1),
  kind: z.literal('results'),
  results: z.array(resultMessageSchema).min(1),
});
export type ResultChunk = z.infer<typeof resultChunkSchema>;

/** The envelope of a results job alone: consumers check its messages one by one, so a bad message fails alone. */
export const resultChunkEnvelopeSchema = resultChunkSchema.extend({ results: z.array(z.unknown()).min(1) });

/** The ids and status every result message carries (what results-queue jobs carried before version 1 of the message). */
export type ResultAnnouncement = Pick<ResultMessage, 'itemId' | 'externalId' | 'task' | 'status'>;

/** What the intake job returns to the producer. */
export interface IntakeOutcome {
  accepted: number;
  duplicates: number;
  rejected: Array<{ externalId: string; reason: string }>;
}
