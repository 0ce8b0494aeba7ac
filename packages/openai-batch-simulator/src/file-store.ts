/**
 * Files: metadata in memory, bytes on disk under one private directory (removed on close).
 * Uploads and results are streamed, so a 200 MB file never sits in memory. A deleted file's
 * bytes stay on disk while a batch still reads it (reference-counted), like the real service,
 * which keeps running a batch whose input file was deleted.
 */
import { createReadStream, createWriteStream, type ReadStream, type WriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { newFileId, randomHex } from './ids.ts';

/** Purposes accepted on upload (reference §1.1). */
export const UPLOAD_PURPOSES = ['assistants', 'batch', 'fine-tune', 'vision', 'user_data', 'evals'] as const;

/**
 * Bytes per disk write and per disk read. Writes of a few lines each (results are written sixteen
 * lines at a time) made one system call per 10 KB, and the default 64 KB reads one per 64 KB; at
 * this size a 50 MB file takes about fifty of each, and a blob holds at most this much unwritten.
 */
export const IO_CHUNK_BYTES = 1024 * 1024;

/** Buffers up to this size are gathered into {@link IO_CHUNK_BYTES} pieces; larger ones go to disk as they are. */
const SMALL_BUFFER_BYTES = 16 * 1024;
/** Strings whose UTF-8 may take up to this many bytes are encoded into the gathering buffer. */
const SMALL_STRING_BYTES = IO_CHUNK_BYTES / 4;

const LF = 10;

/** A stream of a file's bytes, read in {@link IO_CHUNK_BYTES} pieces. */
export function readBytes(path: string): ReadStream {
  return createReadStream(path, { highWaterMark: IO_CHUNK_BYTES });
}

/** Default lifetime of `purpose=batch` files and of batch results: 30 days (reference §1.4). */
export const DEFAULT_BATCH_FILE_TTL_SECONDS = 30 * 86_400;

/** One stored file. */
export interface FileRecord {
  id: string;
  clientId: string;
  bytes: number;
  createdAt: number;
  createdAtMs: number;
  filename: string;
  purpose: string;
  expiresAt: number | null;
  path: string;
  deleted: boolean;
  /** Simulated ms until which the file answers 404 (consistency fault). */
  hiddenUntilMs: number;
  /** Batches still reading the bytes. */
  refs: number;
}

/** The wire `File` object. */
export interface WireFile {
  id: string;
  object: 'file';
  bytes: number;
  created_at: number;
  expires_at: number | null;
  filename: string;
  purpose: string;
  status: 'processed';
  status_details: null;
}

/** A file being written. */
export interface BlobWriter {
  readonly path: string;
  readonly bytes: number;
  write(chunk: Buffer | string): Promise<void>;
  /** Write `line` and a `\n`. */
  writeLine(line: string): Promise<void>;
  finish(): Promise<number>;
  abort(): Promise<void>;
}

/** File metadata and bytes of one simulator. */
export class FileStore {
  private readonly files = new Map<string, FileRecord>();
  private seq = 0;
  private readonly order = new Map<string, number>();

  private constructor(readonly dir: string) {}

  /** Create a store in a fresh directory under `parent` (default: the OS temp dir). */
  static async create(parent?: string): Promise<FileStore> {
    const base = parent ?? tmpdir();
    await mkdir(base, { recursive: true });
    return new FileStore(await mkdtemp(join(base, 'openai-batch-sim-')));
  }

  /**
   * Open a new blob on disk for streaming writes. Strings (result lines) are encoded straight into
   * one {@link IO_CHUNK_BYTES} buffer, written when full; a large Buffer (an upload's piece) goes to
   * the stream as it is (the stream gathers what waits into one `writev`), so no byte is copied
   * just to gather it, and small Buffers join the strings' buffer.
   */
  openBlob(): BlobWriter {
    const path = join(this.dir, `${randomHex(24)}.bin`);
    const ws: WriteStream = createWriteStream(path, { highWaterMark: IO_CHUNK_BYTES });
    let bytes = 0;
    let failed: Error | undefined;
    let cur: Buffer | null = null; // gathers strings and small Buffers
    let used = 0;
    ws.on('error', (err) => {
      failed = err;
    });
    const put = async (data: Buffer): Promise<void> => {
      if (!ws.write(data)) await once(ws, 'drain');
    };
    const flush = async (): Promise<void> => {
      if (!cur || used === 0) return;
      const data = cur.subarray(0, used);
      cur = null; // the stream owns these bytes until written
      used = 0;
      await put(data);
    };
    /** Whether `cur` has room for `n` more bytes. */
    const fits = (n: number): boolean => cur !== null && used + n <= cur.length;
    /** Make room for `n` more bytes in `cur`, writing it out if full. */
    const makeRoom = async (n: number): Promise<void> => {
      if (!fits(n)) await flush();
      cur ??= Buffer.allocUnsafe(IO_CHUNK_BYTES);
    };
    const writeString = async (text: string, newline: boolean): Promise<void> => {
      const most = text.length * 3 + 1; // a UTF-16 unit takes at most 3 bytes in UTF-8
      if (most <= SMALL_STRING_BYTES) {
        if (!fits(most)) await makeRoom(most);
        const n = cur!.write(text, used);
        used += n;
        if (newline) cur![used++] = LF;
        bytes += n + (newline ? 1 : 0);
        return;
      }
      await flush();
      const data = Buffer.from(newline ? `${text}\n` : text);
      bytes += data.length;
      await put(data);
    };
    return {
      path,
      get bytes() {
        return bytes;
      },
      async write(chunk) {
        if (failed) throw failed;
        if (typeof chunk === 'string') return writeString(chunk, false);
        if (chunk.length === 0) return;
        bytes += chunk.length;
        if (chunk.length <= SMALL_BUFFER_BYTES) {
          if (!fits(chunk.length)) await makeRoom(chunk.length);
          used += chunk.copy(cur!, used);
          return;
        }
        await flush();
        await put(chunk);
      },
      async writeLine(line) {
        if (failed) throw failed;
        return writeString(line, true);
      },
      async finish() {
        if (failed) throw failed;
        await flush();
        ws.end();
        await once(ws, 'finish');
        return bytes;
      },
      async abort() {
        cur = null;
        used = 0;
        ws.destroy();
        await finished(ws).catch(() => undefined); // an open still under way would create the file after the unlink
        await unlink(path).catch(() => undefined);
      },
    };
  }

  /** Register a finished blob as a file. */
  add(input: Omit<FileRecord, 'id' | 'deleted' | 'refs'>): FileRecord {
    const rec: FileRecord = { ...input, id: newFileId(), deleted: false, refs: 0 };
    this.files.set(rec.id, rec);
    this.order.set(rec.id, this.seq++);
    return rec;
  }

  /** The file if it exists for this client, is not deleted and has not expired. */
  get(clientId: string, id: string, nowSeconds: number): FileRecord | undefined {
    const rec = this.files.get(id);
    if (!rec || rec.clientId !== clientId || rec.deleted) return undefined;
    if (rec.expiresAt !== null && nowSeconds >= rec.expiresAt) return undefined;
    return rec;
  }

  /**
   * A client's visible files, newest first unless `order: 'asc'`; with `after`, only those that
   * come after that file in this order (which works even if `after` was deleted meanwhile).
   */
  list(
    clientId: string,
    nowSeconds: number,
    nowMs: number,
    opts: { purpose?: string; order?: 'asc' | 'desc'; after?: string } = {},
  ): FileRecord[] {
    const { purpose, order = 'desc', after } = opts;
    const out: FileRecord[] = [];
    for (const rec of this.files.values()) {
      if (rec.clientId !== clientId || rec.deleted || rec.hiddenUntilMs > nowMs) continue;
      if (rec.expiresAt !== null && nowSeconds >= rec.expiresAt) continue;
      if (purpose && rec.purpose !== purpose) continue;
      out.push(rec);
    }
    const seq = (r: FileRecord): number => this.order.get(r.id) ?? 0;
    const cmp = (a: FileRecord, b: FileRecord): number => a.createdAtMs - b.createdAtMs || seq(a) - seq(b);
    out.sort(cmp);
    if (order === 'desc') out.reverse();
    if (after === undefined) return out;
    const pivot = this.files.get(after);
    if (!pivot || pivot.clientId !== clientId) return [];
    return out.filter((r) => (order === 'desc' ? cmp(r, pivot) < 0 : cmp(r, pivot) > 0));
  }

  /** Read the bytes. */
  read(rec: FileRecord): ReadStream {
    return readBytes(rec.path);
  }

  /** Mark deleted; the bytes go once no batch reads them. */
  async delete(rec: FileRecord): Promise<void> {
    rec.deleted = true;
    if (rec.refs === 0) await unlink(rec.path).catch(() => undefined);
  }

  /** A batch starts reading the file. */
  retain(rec: FileRecord): void {
    rec.refs++;
  }

  /** A batch no longer reads the file. */
  async release(rec: FileRecord): Promise<void> {
    rec.refs = Math.max(0, rec.refs - 1);
    if (rec.refs === 0 && rec.deleted) await unlink(rec.path).catch(() => undefined);
  }

  /** Record by id regardless of client/visibility (internal use). */
  raw(id: string): FileRecord | undefined {
    return this.files.get(id);
  }

  /** Forget every file and remove the bytes. */
  async clear(): Promise<void> {
    const paths = [...this.files.values()].map((f) => f.path);
    this.files.clear();
    this.order.clear();
    await Promise.all(paths.map((p) => unlink(p).catch(() => undefined)));
  }

  /** Remove the directory. */
  async close(): Promise<void> {
    this.files.clear();
    await rm(this.dir, { recursive: true, force: true });
  }

  /** The wire object. */
  static toWire(rec: FileRecord): WireFile {
    return {
      id: rec.id,
      object: 'file',
      bytes: rec.bytes,
      created_at: rec.createdAt,
      expires_at: rec.expiresAt,
      filename: rec.filename,
      purpose: rec.purpose,
      status: 'processed',
      status_details: null,
    };
  }
}
