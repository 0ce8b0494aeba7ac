/**
 * The lines of a file's byte stream, split as `node:readline` splits them with `crlfDelay:
 * Infinity` (at `\n`, `\r\n` and a lone `\r`; every line yielded, empty ones included, a last line
 * without an ending too). It splits the bytes and decodes each line alone: `\n` and `\r` never occur
 * inside a UTF-8 character, and decoding a whole chunk that holds one non-ASCII character took V8's
 * slow path for all of it (a third of the simulator's CPU on a batch of the bench's items).
 */

const LF = 10;
const CR = 13;

/** Every line of `source`, without its line ending. Stopping early closes the source. */
export async function* fileLines(source: AsyncIterable<Buffer | string>): AsyncGenerator<string> {
  let carry: Buffer[] = []; // the unfinished line's bytes from earlier chunks
  let afterCr = false; // the last chunk ended with `\r`: a `\n` starting this one belongs to it
  for await (const raw of source) {
    const chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
    if (chunk.length === 0) continue;
    let start = afterCr && chunk[0] === LF ? 1 : 0;
    afterCr = false;
    let lf = chunk.indexOf(LF, start);
    let cr = chunk.indexOf(CR, start);
    while (lf !== -1 || cr !== -1) {
      const end = cr !== -1 && (lf === -1 || cr < lf) ? cr : lf;
      yield lineOf(carry, chunk, start, end);
      carry = [];
      if (end === cr) {
        if (end + 1 === chunk.length) afterCr = true;
        start = chunk[end + 1] === LF ? end + 2 : end + 1;
      } else {
        start = end + 1;
      }
      if (lf !== -1 && lf < start) lf = chunk.indexOf(LF, start);
      if (cr !== -1 && cr < start) cr = chunk.indexOf(CR, start);
    }
    if (start < chunk.length) carry.push(chunk.subarray(start));
  }
  if (carry.length > 0) yield Buffer.concat(carry).toString('utf8');
}

function lineOf(carry: readonly Buffer[], chunk: Buffer, start: number, end: number): string {
  if (carry.length === 0) return chunk.toString('utf8', start, end);
  return Buffer.concat([...carry, chunk.subarray(start, end)]).toString('utf8');
}
