import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';

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
   * Writes lines to a batch file, streamed with back-pressure, through a temporary name so a
   * crash never leaves a half-written file under the final name. Returns the byte count.
   */
  async writeLines(batchId: string, lines: AsyncIterable<string> | Iterable<string>): Promise<{ path: string; bytes: number }> {
    const path = this.batchFilePath(batchId);
    await mkdir(join(this.root, 'batches'), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    const out = createWriteStream(tmp);
    let bytes = 0;
    try {
      for await (const line of lines) {
        const chunk = `${line}\n`;
        bytes += Buffer.byteLength(chunk);
        if (!out.write(chunk)) await once(out, 'drain');
      }
      out.end();
      await once(out, 'finish');
    } catch (err) {
      out.destroy();
      await rm(tmp, { force: true });
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
