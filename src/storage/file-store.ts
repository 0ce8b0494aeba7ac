import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/**
 * Bytes gathered before one write, and the stream's buffer: large enough that a 10 MB file waits
 * for `drain` a handful of times, not hundreds. Each wait is a turn of the event loop, and on a
 * worker busy with other jobs a turn can take tens of milliseconds; small writes made building a
 * batch during intake take seconds. Small enough to bound memory (a few MiB per file being written).
 */
const WRITE_BYTES = 1024 * 1024;
const WRITE_BUFFER_BYTES = 4 * 1024 * 1024;

/** Resolves on `drain`; rejects if the stream fails or closes first. */
async function waitForDrain(out: WriteStream): Promise<void> {
  const ac = new AbortController();
  try {
    await Promise.race([once(out, 'drain', { signal: ac.signal }), once(out, 'close', { signal: ac.signal }).then(() => { throw new Error('file stream closed before drain'); })]);
  } finally {
    ac.abort();
  }
}

/** Where built JSONL files live: a local directory by default. */
export class LocalFileStore {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  batchFilePath(batchId: string): string {
    return join(this.root, 'batches', `${batchId}.jsonl`);
  }

  /**
   * Writes lines to a batch file, streamed with back-pressure (lines are gathered into writes of
   * about 1 MiB, and the writer waits for `drain` whenever the stream's buffer is full), through a
   * temporary name so a crash never leaves a half-written file under the final name. Returns the
   * byte count. A write error (disk full, no permission) rejects; it never crashes the process.
   */
  async writeLines(batchId: string, lines: AsyncIterable<string> | Iterable<string>): Promise<{ path: string; bytes: number }> {
    const path = this.batchFilePath(batchId);
    await mkdir(join(this.root, 'batches'), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    const out = createWriteStream(tmp, { highWaterMark: WRITE_BUFFER_BYTES });
    let failure: Error | undefined;
    out.on('error', (err) => (failure ??= err));
    let bytes = 0;
    // Each line is encoded straight into the chunk being filled: joining lines into one string and
    // encoding that took twice the CPU (the joined string is flattened, then encoded).
    let chunk = Buffer.allocUnsafe(WRITE_BYTES);
    let used = 0;
    const flush = async (): Promise<void> => {
      if (failure) throw failure;
      const full = chunk.subarray(0, used);
      chunk = Buffer.allocUnsafe(WRITE_BYTES); // the stream keeps `full` until it is written
      used = 0;
      bytes += full.length;
      if (!out.write(full)) await waitForDrain(out);
    };
    try {
      for await (const line of lines) {
        const most = line.length * 3 + 1; // a UTF-16 code unit takes at most 3 bytes of UTF-8; the newline one more
        if (most > WRITE_BYTES - used) {
          if (used > 0) await flush();
          if (most > WRITE_BYTES) chunk = Buffer.allocUnsafe(most); // a line larger than a chunk
        }
        used += chunk.write(line, used);
        chunk[used++] = 0x0a;
      }
      if (used > 0) await flush();
      out.end();
      await finished(out);
      if (failure) throw failure;
    } catch (err) {
      // The file is created by an open that may still be under way: remove it only once the stream
      // has closed, or the open creates it after the removal and a partial file stays behind.
      out.destroy();
      await finished(out).catch(() => undefined);
      await rm(tmp, { force: true }).catch(() => undefined); // the write's own error is the one to report
      throw err;
    }
    await rename(tmp, path);
    return { path, bytes };
  }

  async exists(path: string): Promise<boolean> {
    return stat(path).then(() => true, () => false);
  }

  async remove(path: string): Promise<void> {
    await rm(path, { force: true });
  }
}
