import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LineTooLongError, splitLines } from '../../src/provider/line-splitter.ts';
import { LocalFileStore } from '../../src/storage/file-store.ts';

/** The bytes of `text`, cut into chunks at the given byte offsets (so cuts can fall inside a UTF-8 character). */
async function* chunks(text: string, size: number): AsyncGenerator<Uint8Array> {
  const bytes = Buffer.from(text, 'utf8');
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function collect(it: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('splitLines', () => {
  const lines = ['{"a":1}', '{"é":"ünïcödé 🎉"}', '{"b":"' + 'x'.repeat(5_000) + '"}', '{"c":"tab\\tnewline\\n"}'];

  it.each([1, 2, 3, 7, 64, 4096, 1 << 20])('gives back every line whatever the chunk size (%i bytes)', async (size) => {
    expect(await collect(splitLines(chunks(lines.join('\n') + '\n', size)))).toEqual(lines);
  });

  it('drops CR of CRLF endings and blank lines, and keeps a last line without a newline', async () => {
    const text = `${lines[0]}\r\n\r\n   \n${lines[1]}\n\n${lines[2]}`;
    expect(await collect(splitLines(chunks(text, 5)))).toEqual([lines[0], lines[1], lines[2]]);
  });

  it('yields nothing for an empty stream', async () => {
    expect(await collect(splitLines(chunks('', 10)))).toEqual([]);
  });

  it('rejects a line longer than the bound instead of growing without end', async () => {
    const err = await collect(splitLines(chunks('x'.repeat(1_000), 100), 500)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LineTooLongError);
    expect((err as Error).message).toContain('500 characters');
  });

  it('reads no further than the consumer asks (pull-based)', async () => {
    let pulled = 0;
    async function* source(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 1_000; i++) {
        pulled++;
        yield Buffer.from(`{"i":${i}}\n`);
      }
    }
    const it = splitLines(source())[Symbol.asyncIterator]();
    for (let i = 0; i < 3; i++) expect((await it.next()).value).toBe(`{"i":${i}}`);
    expect(pulled).toBeLessThanOrEqual(4);
    await it.return?.(undefined);
  });
});

describe('LocalFileStore.writeLines', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'bf-file-store-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('writes every line, counts the bytes, and leaves no temporary file', async () => {
    const store = new LocalFileStore(root);
    async function* many(): AsyncGenerator<string> {
      for (let i = 0; i < 20_000; i++) yield JSON.stringify({ custom_id: `r-${i}`, text: 'ünïcödé '.repeat(i % 50) });
    }
    const { path, bytes } = await store.writeLines('b1', many());
    const text = await readFile(path, 'utf8');
    expect(Buffer.byteLength(text)).toBe(bytes);
    const back = text.split('\n');
    expect(back.pop()).toBe('');
    expect(back).toHaveLength(20_000);
    expect(JSON.parse(back[19_999]!).custom_id).toBe('r-19999');
    expect((await readdir(join(root, 'batches'))).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('rejects (without crashing) when the file cannot be opened, with the stream error', async () => {
    const store = new LocalFileStore(root);
    // The temporary name is taken by a directory: opening it for writing fails with EISDIR,
    // an 'error' event on the stream that must become this call's rejection.
    await mkdir(`${store.batchFilePath('b2')}.${process.pid}.tmp`, { recursive: true });
    await expect(store.writeLines('b2', ['a', 'b'])).rejects.toThrow(/EISDIR/);
    await expect(store.writeLines('b2-ok', ['a'])).resolves.toMatchObject({ bytes: 2 });
  });

  it('rejects when the source throws, and keeps no partial file', async () => {
    const store = new LocalFileStore(root);
    async function* broken(): AsyncGenerator<string> {
      yield 'a'.repeat(100_000);
      throw new Error('source broke');
    }
    await expect(store.writeLines('b3', broken())).rejects.toThrow('source broke');
    const files = await readdir(join(root, 'batches'));
    expect(files.filter((f) => f.startsWith('b3'))).toEqual([]);
  });
});
