import { Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { fileLines } from '../src/file-lines.ts';

const collect = async (lines: AsyncIterable<string>): Promise<string[]> => {
  const out: string[] = [];
  for await (const l of lines) out.push(l);
  return out;
};

/** A deterministic generator, so a failure names an input that can be replayed. */
function lcg(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
}

describe('fileLines', () => {
  it('splits like readline with crlfDelay Infinity, whatever the chunk boundaries', async () => {
    const alphabet = ['a', 'b', '\n', '\r', '\r\n', ' ', 'é', '😀', '{"x":1}'];
    const rnd = lcg(42);
    for (let k = 0; k < 3_000; k++) {
      let s = '';
      const len = Math.floor(rnd() * 16);
      for (let i = 0; i < len; i++) s += alphabet[Math.floor(rnd() * alphabet.length)];
      const bytes = Buffer.from(s);
      const chunks: Buffer[] = [];
      for (let p = 0; p < bytes.length; ) {
        const q = Math.min(bytes.length, p + 1 + Math.floor(rnd() * 5)); // cuts inside \r\n and inside characters too
        chunks.push(bytes.subarray(p, q));
        p = q;
      }
      const expected = await collect(createInterface({ input: Readable.from(chunks), crlfDelay: Infinity }));
      expect(await collect(fileLines(Readable.from(chunks))), JSON.stringify(s)).toEqual(expected);
    }
  });

  it('yields empty lines and a last line without an ending, and closes the source when stopped early', async () => {
    expect(await collect(fileLines(Readable.from([Buffer.from('a\n\nb\r\nc\rd')])))).toEqual(['a', '', 'b', 'c', 'd']);
    const source = Readable.from([Buffer.from('one\ntwo\nthree\n')]);
    for await (const line of fileLines(source)) if (line === 'one') break;
    expect(source.destroyed).toBe(true);
  });
});
