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

/** What a results-queue job carries: the ids; the result itself is in PostgreSQL. */
export interface ResultAnnouncement {
  itemId: string;
  externalId: string;
  task: string;
  status: 'succeeded' | 'failed';
}

/** What the intake job returns to the producer. */
export interface IntakeOutcome {
  accepted: number;
  duplicates: number;
  rejected: Array<{ externalId: string; reason: string }>;
}
