/** Provider batch statuses, as OpenAI names them. */
export type ProviderBatchStatus =
  | 'validating'
  | 'failed'
  | 'in_progress'
  | 'finalizing'
  | 'completed'
  | 'expired'
  | 'cancelling'
  | 'cancelled';

export const TERMINAL_PROVIDER_STATUSES: ReadonlySet<string> = new Set(['failed', 'completed', 'expired', 'cancelled']);

export interface ProviderBatchError {
  code: string | null;
  message: string | null;
  param: string | null;
  line: number | null;
}

/** The fields of a provider batch the pipeline reads, normalised (`""` file ids become null). */
export interface ProviderBatch {
  id: string;
  status: ProviderBatchStatus;
  inputFileId: string;
  outputFileId: string | null;
  errorFileId: string | null;
  errors: ProviderBatchError[];
  requestCounts: { total: number; completed: number; failed: number };
  createdAt: Date;
  expiresAt: Date | null;
  metadata: Record<string, string>;
}

/**
 * The answer of one synchronous request. HTTP errors the API answered come back here as
 * `{ status, body: { error } }` (like an error response inside a batch output line); only a
 * request that got no answer at all (connection failure, timeout) throws `ProviderError`.
 */
export interface SyncResponse {
  status: number;
  body: Record<string, unknown>;
}

/** What the pipeline needs from a batch provider. The OpenAI implementation sits on the official SDK. */
export interface BatchProvider {
  /** Uploads a local JSONL file for batch use, streamed. */
  uploadFile(path: string, filename: string, signal?: AbortSignal): Promise<{ id: string }>;
  /** Finds an uploaded batch file by its filename (to adopt an upload whose response was lost). */
  findFileByName(filename: string): Promise<{ id: string } | null>;
  /** Creates a batch. Never retried by the SDK: a lost response is resolved by `findBatchByMetadata`. */
  createBatch(params: { inputFileId: string; endpoint: string; metadata: Record<string, string> }): Promise<ProviderBatch>;
  /** The newest batch whose metadata has `key` = `value`, or null. */
  findBatchByMetadata(key: string, value: string): Promise<ProviderBatch | null>;
  retrieveBatch(id: string, signal?: AbortSignal): Promise<ProviderBatch>;
  cancelBatch(id: string): Promise<ProviderBatch>;
  /** Every batch the account can list, newest first. */
  listBatches(): AsyncIterable<ProviderBatch>;
  /** Every uploaded file with purpose `batch`. */
  listBatchFiles(): AsyncIterable<{ id: string; filename: string; createdAt: Date }>;
  /** A file's content, line by line, streamed. */
  fileLines(fileId: string, signal?: AbortSignal): AsyncIterable<string>;
  deleteFile(fileId: string): Promise<void>;
  /** One synchronous request (sync mode): `endpoint` as in a batch line (`/v1/chat/completions`), never retried by the SDK. */
  request(endpoint: string, body: Record<string, unknown>, signal?: AbortSignal): Promise<SyncResponse>;
}
