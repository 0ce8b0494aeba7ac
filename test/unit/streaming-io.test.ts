import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLines, readAhead } from '../../src/pipeline/process/read-files.ts';
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

  it('gives the lines a decode of the whole stream gives, bad UTF-8 and any chunking included', async () => {
    const pieces = [...['a', '{"x":1}', '\n', '\r\n', '\r', ' ', 'é', '😀'].map((t) => Buffer.from(t)), ...[[0xe2], [0xe2, 0x82], [0x80], [0xff]].map((b) => Buffer.from(b))];
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
    for (let k = 0; k < 3_000; k++) {
      const bytes = Buffer.concat(Array.from({ length: Math.floor(rnd() * 16) }, () => pieces[Math.floor(rnd() * pieces.length)]!));
      const cuts: Uint8Array[] = [];
      for (let p = 0; p < bytes.length; ) {
        const q = Math.min(bytes.length, p + 1 + Math.floor(rnd() * 5));
        cuts.push(bytes.subarray(p, q));
        p = q;
      }
      const expected = bytes.toString('utf8').split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l)).filter((l) => l.trim() !== '');
      expect(await collect(splitLines((async function* () { yield* cuts; })())), bytes.toString('hex')).toEqual(expected);
    }
  });

  it('yields nothing for an empty stream', async () => {
    expect(await collect(splitLines(chunks('', 10)))).toEqual([]);
  });

  it('rejects a line longer than the bound instead of growing without end', async () => {
    const err = await collect(splitLines(chunks('x'.repeat(1_000), 100), 500)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LineTooLongError);
    expect((err as Error).message).toContain('500 bytes');
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

describe('readAhead', () => {
  /** A source that records how far it has been pulled and whether it was closed. */
  function source(n: number, failAt?: number) {
    const seen = { pulled: 0, closed: false };
    const gen = async function* () {
      try {
        for (let i = 0; i < n; i++) {
          await new Promise((r) => setImmediate(r));
          if (i === failAt) throw new Error(`source broke at ${i}`);
          seen.pulled = i + 1;
          yield i;
        }
      } finally {
        seen.closed = true;
      }
    };
    return { seen, it: gen() };
  }

  it('gives every element in order, and has pulled the next one while the consumer holds the current', async () => {
    const { seen, it } = source(5);
    const got: number[] = [];
    const pulledWhileHolding: number[] = [];
    for await (const x of readAhead(it)) {
      // The consumer waits (on the database, in the pipeline): turns of the event loop, not time.
      for (let turn = 0; turn < 1_000 && seen.pulled < Math.min(x + 2, 5); turn++) await new Promise((r) => setImmediate(r));
      pulledWhileHolding.push(seen.pulled);
      got.push(x);
    }
    expect(got).toEqual([0, 1, 2, 3, 4]);
    expect(pulledWhileHolding).toEqual([2, 3, 4, 5, 5]);
    expect(seen.closed).toBe(true);
  });

  it('closes the source when the consumer stops early, without reading it to the end', async () => {
    const { seen, it } = source(100);
    for await (const x of readAhead(it)) if (x === 3) break;
    expect(seen.closed).toBe(true);
    expect(seen.pulled).toBeLessThanOrEqual(5);
  });

  it("passes the source's error to the consumer", async () => {
    const { it } = source(10, 4);
    const got: number[] = [];
    await expect(
      (async () => {
        for await (const x of readAhead(it)) got.push(x);
      })(),
    ).rejects.toThrow('source broke at 4');
    expect(got).toEqual([0, 1, 2, 3]);
  });
});

describe('parseLines', () => {
  const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
  const line = (n: number, answer: string, idText = id(n)) => JSON.stringify({ custom_id: idText, response: { status_code: 200, body: { answer } } });
  const answers = (byId: Map<string, Record<string, unknown>>) =>
    Object.fromEntries([...byId].map(([k, v]) => [k, (v.response as { body: { answer: string } }).body.answer]));

  it('keeps the first line of an id, in its chunk and across the chunks of a file, and counts the rest', () => {
    const seen = new Set<string>();
    const first = parseLines([line(1, 'a'), line(2, 'b'), line(1, 'again'), 'not json', JSON.stringify({ custom_id: 'x' })], seen);
    expect(answers(first.byId)).toEqual({ [id(1)]: 'a', [id(2)]: 'b' });
    expect(first).toMatchObject({ unreadable: 2, duplicates: 1 });
    // The same item in upper case is the same id; a new id still comes through.
    const second = parseLines([line(2, 'later', id(2).toUpperCase()), line(3, 'c')], seen);
    expect(answers(second.byId)).toEqual({ [id(3)]: 'c' });
    expect(second).toMatchObject({ unreadable: 0, duplicates: 1 });
  });

  it('remembers at most maxSeen ids, and leaves a repeat past them to the store', () => {
    const seen = new Set<string>();
    const first = parseLines([line(1, 'a'), line(2, 'b'), line(3, 'c'), line(3, 'c again')], seen, 2);
    expect(answers(first.byId)).toEqual({ [id(1)]: 'a', [id(2)]: 'b', [id(3)]: 'c' });
    expect(first.duplicates).toBe(1);
    expect([...seen]).toEqual([id(1), id(2)]);
    const second = parseLines([line(1, 'x'), line(3, 'y')], seen, 2);
    expect(answers(second.byId)).toEqual({ [id(3)]: 'y' });
    expect(second.duplicates).toBe(1);
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

  it('writes lines longer than one write and characters of every UTF-8 width byte for byte', async () => {
    const store = new LocalFileStore(root);
    const lines = [
      'a',
      'é€😀'.repeat(200_000), // 1.8 MB of 2-, 3- and 4-byte characters: larger than one write
      'x'.repeat(1_048_575), // exactly one write with its newline
      '',
      'ü'.repeat(400_000), // fills a write nearly full, then the next line must start a new one
      'z',
    ];
    const { path, bytes } = await store.writeLines('b-wide', lines);
    const expected = Buffer.from(lines.map((l) => `${l}\n`).join(''));
    const written = await readFile(path);
    expect(bytes).toBe(expected.length);
    expect(written.equals(expected)).toBe(true);
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
    // Many times over: the file's open may still be under way when the source throws, and the
    // temporary file must not be created after it was removed.
    for (let i = 0; i < 100; i++) await expect(store.writeLines(`b3-${i}`, broken())).rejects.toThrow('source broke');
    const files = await readdir(join(root, 'batches'));
    expect(files.filter((f) => f.startsWith('b3'))).toEqual([]);
  });
});
