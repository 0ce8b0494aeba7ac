/**
 * JSONL from a byte stream, pulled one chunk at a time: the consumer's pace sets the reading pace
 * (nothing is read ahead beyond the chunk being split), and memory is bounded by one chunk plus
 * one line, which may itself be at most `maxLineChars` long.
 */

/** Longest line accepted, in characters: far above any Batch API result line (an embedding of 3,072 floats is ~70 KB). */
export const MAX_LINE_CHARS = 64 * 1024 * 1024;

/** A line longer than the bound: the file is not JSONL as the Batch API writes it. */
export class LineTooLongError extends Error {
  constructor(readonly maxLineChars: number) {
    super(`a line is longer than ${maxLineChars} characters`);
    this.name = 'LineTooLongError';
  }
}

/**
 * The non-blank lines of a UTF-8 byte stream, without their `\n` or `\r\n`. A multi-byte
 * character split across chunks is decoded whole; a last line without a newline is yielded.
 * @throws LineTooLongError when a line grows past `maxLineChars`.
 */
export async function* splitLines(source: AsyncIterable<Uint8Array>, maxLineChars = MAX_LINE_CHARS): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8');
  let rest = '';
  for await (const chunk of source) {
    const text = rest + decoder.decode(chunk, { stream: true });
    let start = 0;
    let nl: number;
    while ((nl = text.indexOf('\n', start)) !== -1) {
      const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      if (end > start) {
        const line = text.slice(start, end);
        if (line.trim() !== '') yield line;
      }
      start = nl + 1;
    }
    rest = start === 0 ? text : text.slice(start);
    if (rest.length > maxLineChars) throw new LineTooLongError(maxLineChars);
  }
  rest += decoder.decode();
  if (rest.endsWith('\r')) rest = rest.slice(0, -1);
  if (rest.trim() !== '') yield rest;
}
