/**
 * The lines of a file's byte stream, split as `node:readline` splits them with `crlfDelay:
 * Infinity` (at `\n`, `\r\n` and a lone `\r`; every line yielded, empty ones included, a last line
 * without an ending too), with one `indexOf` scan per line instead of readline's regex and events.
 */
import { StringDecoder } from 'node:string_decoder';

/** Every line of `source`, without its line ending. Stopping early closes the source. */
export async function* fileLines(source: AsyncIterable<Buffer | string>): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  for await (const chunk of source) {
    const text = rest + (typeof chunk === 'string' ? chunk : decoder.write(chunk));
    let start = 0;
    let nl = text.indexOf('\n');
    let cr = text.indexOf('\r');
    for (;;) {
      let end: number;
      let next: number;
      if (cr !== -1 && (nl === -1 || cr < nl)) {
        if (cr + 1 === text.length) break; // a `\r` last in the chunk: the next chunk may start with its `\n`
        end = cr;
        next = text.charCodeAt(cr + 1) === 10 ? cr + 2 : cr + 1;
      } else if (nl !== -1) {
        end = nl;
        next = nl + 1;
      } else {
        break;
      }
      yield text.slice(start, end);
      start = next;
      if (nl !== -1 && nl < start) nl = text.indexOf('\n', start);
      if (cr !== -1 && cr < start) cr = text.indexOf('\r', start);
    }
    rest = start === 0 ? text : text.slice(start);
  }
  rest += decoder.end();
  if (rest.endsWith('\r')) yield rest.slice(0, -1);
  else if (rest.length > 0) yield rest;
}
