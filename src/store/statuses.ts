/**
 * The status vocabularies, as plain data with no imports: the batch statuses, and the item status a
 * reader shows. Read models and the producer's client use these without loading the state
 * machines or the database layer.
 */
export const BATCH_STATUSES = [
  'building', 'built', 'submitting', 'validating', 'in_progress', 'finalizing', 'cancelling',
  'completed', 'expired', 'failed', 'cancelled', 'processed',
] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];

/** Open at the provider: the poll loop runs while a batch is in one of these. */
export const PROVIDER_OPEN: readonly BatchStatus[] = ['validating', 'in_progress', 'finalizing', 'cancelling'];
/** Ended at the provider, results not yet recorded. */
export const TERMINAL: readonly BatchStatus[] = ['completed', 'expired', 'failed', 'cancelled'];

/** Batch statuses after the provider accepted the batch: their `batched` items are shown as `submitted`. */
const AT_PROVIDER: readonly BatchStatus[] = [...PROVIDER_OPEN, ...TERMINAL];

/** The status a reader shows for an item: `batched` becomes `submitted` once its batch is at the provider. */
export function shownItemStatus(status: string, batchStatus: string | null | undefined): string {
  return status === 'batched' && AT_PROVIDER.includes(batchStatus as BatchStatus) ? 'submitted' : status;
}

/** `shownItemStatus` in SQL, for an `items` alias left-joined to its batch's alias. */
export function shownItemStatusSql(item: string, batch: string): string {
  const atProvider = AT_PROVIDER.map((s) => `'${s}'`).join(', ');
  return `case when ${item}.status = 'batched' and ${batch}.status in (${atProvider}) then 'submitted' else ${item}.status end`;
}
