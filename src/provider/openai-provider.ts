import { createReadStream } from 'node:fs';
import OpenAI, { APIConnectionError, APIError, APIUserAbortError, toStreamingFile } from 'openai';
import { ProviderError } from '../errors.ts';
import { LineTooLongError, splitLines } from './line-splitter.ts';
import type { BatchProvider, ProviderBatch, ProviderBatchStatus, SyncResponse } from './provider.ts';

type SdkBatch = OpenAI.Batches.Batch;

/** Read size of an upload: 1 MiB reads, so a 10 MB file takes ten turns of a busy event loop, not 160. */
const UPLOAD_READ_BYTES = 1024 * 1024;

const nullIfEmpty = (v: string | null | undefined): string | null => (v ? v : null);

function toProviderBatch(b: SdkBatch): ProviderBatch {
  return {
    id: b.id,
    status: b.status as ProviderBatchStatus,
    inputFileId: b.input_file_id,
    outputFileId: nullIfEmpty(b.output_file_id),
    errorFileId: nullIfEmpty(b.error_file_id),
    errors: (b.errors?.data ?? []).map((e) => ({
      code: e.code ?? null,
      message: e.message ?? null,
      param: e.param ?? null,
      line: e.line ?? null,
    })),
    requestCounts: b.request_counts ?? { total: 0, completed: 0, failed: 0 },
    createdAt: new Date(b.created_at * 1000),
    expiresAt: b.expires_at ? new Date(b.expires_at * 1000) : null,
    metadata: (b.metadata ?? {}) as Record<string, string>,
  };
}

/** Maps SDK failures to ProviderError: 408/409/429/5xx and connection errors are retryable. */
export function toProviderError(err: unknown, what: string): unknown {
  if (err instanceof APIConnectionError) return new ProviderError(`${what}: connection failed`, true);
  if (err instanceof APIError) {
    const status = err.status ?? 0;
    const retryable = status === 408 || status === 409 || status === 429 || status >= 500 || status === 404;
    const retryAfter = Number(err.headers?.get?.('retry-after-ms') ?? Number(err.headers?.get?.('retry-after') ?? NaN) * 1000);
    // The SDK's message already starts with the status ("404 No such File object"): say it once.
    const message = status && !err.message.startsWith(`${status} `) ? `${status} ${err.message}` : err.message;
    return new ProviderError(`${what}: ${message}`, retryable, status, err.code ?? undefined, Number.isFinite(retryAfter) ? retryAfter : undefined);
  }
  return err;
}

async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toProviderError(err, what);
  }
}

/** The OpenAI Batch API on the official SDK; `baseURL` points it at the simulator or any compatible server. */
export class OpenAIBatchProvider implements BatchProvider {
  readonly client: OpenAI;

  constructor(options: { apiKey: string; baseURL?: string; timeoutMs?: number; maxRetries?: number }) {
    this.client = new OpenAI({
      apiKey: options.apiKey,
      baseURL: options.baseURL,
      timeout: options.timeoutMs ?? 120_000,
      maxRetries: options.maxRetries ?? 2,
    });
  }

  uploadFile(path: string, filename: string, signal?: AbortSignal): Promise<{ id: string }> {
    return call('upload file', async () => {
      const file = await this.client.files.create(
        { file: toStreamingFile(createReadStream(path, { highWaterMark: UPLOAD_READ_BYTES }), filename, { type: 'application/jsonl' }), purpose: 'batch' },
        { signal, maxRetries: 0 },
      );
      return { id: file.id };
    });
  }

  async findFileByName(filename: string): Promise<{ id: string } | null> {
    for await (const f of this.listBatchFiles()) if (f.filename === filename) return { id: f.id };
    return null;
  }

  createBatch(params: { inputFileId: string; endpoint: string; metadata: Record<string, string> }): Promise<ProviderBatch> {
    return call('create batch', async () =>
      toProviderBatch(
        await this.client.batches.create(
          {
            input_file_id: params.inputFileId,
            endpoint: params.endpoint as OpenAI.Batches.BatchCreateParams['endpoint'],
            completion_window: '24h',
            metadata: params.metadata,
          },
          { maxRetries: 0 },
        ),
      ),
    );
  }

  async findBatchByMetadata(key: string, value: string): Promise<ProviderBatch | null> {
    for await (const b of this.listBatches()) if (b.metadata[key] === value) return b;
    return null;
  }

  retrieveBatch(id: string, signal?: AbortSignal): Promise<ProviderBatch> {
    return call('retrieve batch', async () => toProviderBatch(await this.client.batches.retrieve(id, { signal })));
  }

  cancelBatch(id: string): Promise<ProviderBatch> {
    return call('cancel batch', async () => toProviderBatch(await this.client.batches.cancel(id)));
  }

  async *listBatches(): AsyncIterable<ProviderBatch> {
    try {
      for await (const b of this.client.batches.list({ limit: 100 })) yield toProviderBatch(b);
    } catch (err) {
      throw toProviderError(err, 'list batches');
    }
  }

  async *listBatchFiles(): AsyncIterable<{ id: string; filename: string; createdAt: Date }> {
    try {
      for await (const f of this.client.files.list({ purpose: 'batch' })) {
        yield { id: f.id, filename: f.filename, createdAt: new Date(f.created_at * 1000) };
      }
    } catch (err) {
      throw toProviderError(err, 'list files');
    }
  }

  /**
   * Streams a file's lines: the response body is pulled chunk by chunk as the caller consumes
   * lines, so memory stays at one chunk plus one line whatever the file's size.
   */
  async *fileLines(fileId: string, signal?: AbortSignal): AsyncIterable<string> {
    const res = await call('download file', () => this.client.files.content(fileId, { signal }));
    if (!res.body) return;
    try {
      yield* splitLines(res.body as AsyncIterable<Uint8Array>);
    } catch (err) {
      if (err instanceof LineTooLongError) throw new ProviderError(`download file ${fileId}: ${err.message}`, false);
      throw toProviderError(err, 'download file');
    }
  }

  async deleteFile(fileId: string): Promise<void> {
    await call('delete file', () => this.client.files.delete(fileId)).catch((err: unknown) => {
      if (err instanceof ProviderError && err.status === 404) return;
      throw err;
    });
  }

  /**
   * One synchronous request. No SDK retries: a 429 or 5xx answer is judged like the same answer in
   * a batch output line, so sync work follows the task's own retry policy. The SDK's `error` is the
   * parsed `error` object of the response body.
   */
  async request(endpoint: string, body: Record<string, unknown>, signal?: AbortSignal): Promise<SyncResponse> {
    try {
      const answer = await this.client.post<Record<string, unknown>>(endpoint.replace(/^\/v1(?=\/)/, ''), { body, signal, maxRetries: 0 });
      return { status: 200, body: answer };
    } catch (err) {
      if (err instanceof APIUserAbortError) throw err;
      if (err instanceof APIError && !(err instanceof APIConnectionError) && typeof err.status === 'number') {
        const error = err.error && typeof err.error === 'object' ? (err.error as Record<string, unknown>) : { message: err.message };
        return { status: err.status, body: { error } };
      }
      throw toProviderError(err, `request ${endpoint}`);
    }
  }
}
