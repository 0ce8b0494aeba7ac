/**
 * JSONL from a byte stream, pulled one chunk at a time: the consumer's pace sets the reading pace
 * (nothing is read ahead beyond the chunk being split), and memory is bounded by one chunk plus
 * one line, which may itself be at most `maxLineBytes` bytes long.
 */

/** Longest line accepted, in bytes: far above any Batch API result line (an embedding of 3,072 floats is ~70 KB). */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;

/** A line longer than the bound: the file is not JSONL as the Batch API writes it. */
export class LineTooLongError extends Error {
  constructor(readonly maxLineBytes: number) {
    super(`a line is longer than ${maxLineBytes} bytes`);
    this.name = 'LineTooLongError';
  }
}

const LF = 10;
const CR = 13;

/**
 * The non-blank lines of a UTF-8 byte stream, without their `\n` or `\r\n`. The bytes are split
 * first and each line decoded alone (a `\n` is never inside a UTF-8 character), so a character
 * split across chunks is decoded whole, and one non-ASCII character does not send a whole chunk
 * down V8's slow decoding path. A last line without a newline is yielded.
 * @throws LineTooLongError when a line grows past `maxLineBytes`.
 */
export async function* splitLines(source: AsyncIterable<Uint8Array>, maxLineBytes = MAX_LINE_BYTES): AsyncGenerator<string> {
  let carry: Buffer[] = []; // the unfinished line's bytes from earlier chunks
  let carried = 0;
  for await (const bytes of source) {
    const chunk = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let start = 0;
    let nl: number;
    while ((nl = chunk.indexOf(LF, start)) !== -1) {
      const line = carried === 0 ? lineText(chunk, start, nl) : lineText(Buffer.concat([...carry, chunk.subarray(start, nl)]));
      carry = [];
      carried = 0;
      if (line !== null) yield line;
      start = nl + 1;
    }
    if (start < chunk.length) {
      carry.push(chunk.subarray(start));
      carried += chunk.length - start;
      if (carried > maxLineBytes) throw new LineTooLongError(maxLineBytes);
    }
  }
  if (carried > 0) {
    const line = lineText(Buffer.concat(carry, carried));
    if (line !== null) yield line;
  }
}

/** The text of bytes `start`..`end` without a final `\r`, or null when it is blank. */
function lineText(buf: Buffer, start = 0, end = buf.length): string | null {
  const stop = end > start && buf[end - 1] === CR ? end - 1 : end;
  if (stop <= start) return null;
  const line = buf.toString('utf8', start, stop);
  return line.trim() === '' ? null : line;
}
