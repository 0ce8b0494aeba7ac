import { isUtf8 } from 'node:buffer';
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
  it('splits like readline with crlfDelay Infinity, whatever the chunk boundaries, and decodes bad bytes as one decode of the whole would', async () => {
    // Text pieces, and bytes that are not UTF-8 (a lone lead byte, a cut sequence, a stray continuation byte, 0xFF).
    const alphabet = [
      ...['a', 'b', '\n', '\r', '\r\n', ' ', 'é', '😀', '{"x":1}'].map((t) => Buffer.from(t)),
      ...[[0xe2], [0xe2, 0x82], [0x80], [0xff], [0xf0, 0x9f, 0x98]].map((b) => Buffer.from(b)),
    ];
    const rnd = lcg(42);
    for (let k = 0; k < 5_000; k++) {
      const len = Math.floor(rnd() * 16);
      const bytes = Buffer.concat(Array.from({ length: len }, () => alphabet[Math.floor(rnd() * alphabet.length)]!));
      const s = bytes.toString('hex');
      const chunks: Buffer[] = [];
      for (let p = 0; p < bytes.length; ) {
        const q = Math.min(bytes.length, p + 1 + Math.floor(rnd() * 5)); // cuts inside \r\n and inside characters too
        chunks.push(bytes.subarray(p, q));
        p = q;
      }
      const got = await collect(fileLines(Readable.from(chunks)));
      // The whole stream decoded at once, then split: what the lines must be, valid UTF-8 or not.
      const whole = bytes.toString('utf8').split(/\r\n|\n|\r/);
      if (whole[whole.length - 1] === '') whole.pop();
      expect(got, s).toEqual(whole);
      // readline agrees on valid UTF-8 (it drops an unfinished character at the very end instead of writing U+FFFD).
      if (isUtf8(bytes)) expect(got, s).toEqual(await collect(createInterface({ input: Readable.from(chunks), crlfDelay: Infinity })));
    }
  });

  it('yields empty lines and a last line without an ending, and closes the source when stopped early', async () => {
    expect(await collect(fileLines(Readable.from([Buffer.from('a\n\nb\r\nc\rd')])))).toEqual(['a', '', 'b', 'c', 'd']);
    const source = Readable.from([Buffer.from('one\ntwo\nthree\n')]);
    for await (const line of fileLines(source)) if (line === 'one') break;
    expect(source.destroyed).toBe(true);
  });
});
