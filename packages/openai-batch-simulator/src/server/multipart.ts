/**
 * A streaming `multipart/form-data` reader for file uploads: small fields are collected in
 * memory, the `file` part is streamed to disk chunk by chunk (with backpressure), so uploads of
 * hundreds of MB use constant memory. Handles the SDK's encoding (undici FormData).
 */
import type { IncomingMessage } from 'node:http';
import { ApiError } from '../errors.ts';
import type { BlobWriter } from '../file-store.ts';

/** What an upload contained. */
export interface MultipartResult {
  fields: Record<string, string>;
  file: { filename: string; bytes: number } | null;
}

const MAX_HEADER_BYTES = 16 * 1024;
const MAX_FIELD_BYTES = 64 * 1024;

function boundaryOf(contentType: string | undefined): string {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
  const b = m?.[1] ?? m?.[2];
  if (!contentType?.toLowerCase().startsWith('multipart/form-data') || !b) {
    throw new ApiError(400, "Invalid content type. Expected 'multipart/form-data' with a boundary.", 'invalid_request_error', null, null);
  }
  return b;
}

function parseDisposition(headerBlock: string): { name: string; filename: string | null } {
  let name = '';
  let filename: string | null = null;
  for (const line of headerBlock.split('\r\n')) {
    if (!/^content-disposition:/i.test(line)) continue;
    const n = /\bname="((?:[^"\\]|\\.)*)"/i.exec(line);
    const f = /\bfilename="((?:[^"\\]|\\.)*)"/i.exec(line);
    if (n?.[1] !== undefined) name = n[1];
    if (f?.[1] !== undefined) filename = decodeURIComponent(f[1].replace(/%(?![0-9A-Fa-f]{2})/g, '%25')).replace(/\\"/g, '"');
  }
  return { name, filename };
}

/**
 * Read a multipart body. The part named `file` is written to the blob from `openFile()`, which
 * is aborted (removed) if the body is malformed or larger than `maxFileBytes`.
 */
export async function readMultipart(
  req: IncomingMessage,
  openFile: () => BlobWriter,
  maxFileBytes: number,
): Promise<MultipartResult & { blob: BlobWriter | null }> {
  const boundary = boundaryOf(req.headers['content-type']);
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  const fields: Record<string, string> = {};
  let file: { filename: string; bytes: number } | null = null;
  let blob: BlobWriter | null = null;

  // Prepend CRLF so the first boundary looks like every other one.
  let buf: Buffer = Buffer.from('\r\n');
  let state = 'preamble' as 'preamble' | 'headers' | 'body' | 'done';
  let part: { name: string; filename: string | null; chunks: Buffer[]; size: number } | null = null;

  const emit = async (data: Buffer): Promise<void> => {
    if (!part || data.length === 0) return;
    if (part.name === 'file' && blob) {
      if (blob.bytes + data.length > maxFileBytes) {
        throw new ApiError(400, `File is too large. The maximum file size is ${maxFileBytes} bytes.`, 'invalid_request_error', 'file', null);
      }
      await blob.write(data);
    } else {
      part.size += data.length;
      if (part.size > MAX_FIELD_BYTES) throw new ApiError(400, `Form field '${part.name}' is too large.`, 'invalid_request_error', part.name, null);
      part.chunks.push(data);
    }
  };

  const endPart = async (): Promise<void> => {
    if (!part) return;
    if (part.name === 'file' && blob) file = { filename: part.filename ?? 'upload', bytes: blob.bytes };
    else if (part.name) fields[part.name] = Buffer.concat(part.chunks).toString('utf8');
    part = null;
  };

  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      if (buf.length === 0) buf = chunk;
      else if ((state === 'body' || state === 'preamble') && buf.length <= delimiter.length + 1 && chunk.length > delimiter.length) {
        // The carried tail is only kept in case a delimiter starts in it. Such a delimiter ends
        // within the chunk's first bytes, so look there alone: if none starts in the tail, the tail
        // is plain data and the chunk is scanned as it is, instead of copied behind the tail.
        const joint = Buffer.concat([buf, chunk.subarray(0, delimiter.length)]);
        const found = joint.indexOf(delimiter);
        if (found !== -1 && found < buf.length) {
          buf = Buffer.concat([buf, chunk]);
        } else {
          if (state === 'body') await emit(buf);
          buf = chunk;
        }
      } else {
        buf = Buffer.concat([buf, chunk]);
      }
      for (;;) {
        if (state === 'done') break;
        if (state === 'preamble' || state === 'body') {
          const idx = buf.indexOf(delimiter);
          if (idx === -1) {
            // Keep a tail that could hold the start of a delimiter.
            const keep = Math.min(buf.length, delimiter.length + 1);
            if (state === 'body') await emit(buf.subarray(0, buf.length - keep));
            buf = buf.subarray(buf.length - keep);
            break;
          }
          if (state === 'body') {
            await emit(buf.subarray(0, idx));
            await endPart();
          }
          const after = idx + delimiter.length;
          if (buf.length < after + 2) {
            if (state === 'body') {
              // emitted data before delimiter already; keep delimiter for re-scan
              buf = buf.subarray(idx);
              state = 'preamble';
            }
            break;
          }
          const tail = buf.subarray(after, after + 2).toString('latin1');
          if (tail === '--') {
            state = 'done';
            break;
          }
          const headerEnd = buf.indexOf('\r\n\r\n', after);
          if (headerEnd === -1) {
            if (buf.length - after > MAX_HEADER_BYTES) throw new ApiError(400, 'Malformed multipart body.', 'invalid_request_error', null, null);
            buf = buf.subarray(idx);
            state = 'preamble';
            break;
          }
          const { name, filename } = parseDisposition(buf.subarray(after + 2, headerEnd).toString('utf8'));
          part = { name, filename, chunks: [], size: 0 };
          if (name === 'file') {
            if (blob) throw new ApiError(400, "Only one 'file' may be uploaded.", 'invalid_request_error', 'file', null);
            blob = openFile();
          }
          buf = buf.subarray(headerEnd + 4);
          state = 'body';
        }
      }
    }
    if (state !== 'done') throw new ApiError(400, 'Malformed multipart body: missing the closing boundary.', 'invalid_request_error', null, null);
  } catch (err) {
    const b = blob as BlobWriter | null;
    if (b) await b.abort();
    throw err;
  }
  return { fields, file, blob };
}
