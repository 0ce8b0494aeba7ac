import type { BatchProvider } from '../../provider/provider.ts';

/** How much of a file one chunk may hold: lines, and characters of raw line text. */
export interface ChunkBounds { lines: number; chars: number }

/**
 * The lines of a batch's output and error files, streamed, in chunks within `bounds`: long answers
 * make smaller chunks, so the memory a chunk takes stays bounded whatever the line length.
 */
export async function* fileChunks(provider: BatchProvider, fileIds: ReadonlyArray<string | null>, bounds: ChunkBounds): AsyncGenerator<string[]> {
  for (const fileId of fileIds) {
    if (!fileId) continue;
    let chunk: string[] = [];
    let chars = 0;
    for await (const line of provider.fileLines(fileId)) {
      chunk.push(line);
      chars += line.length;
      if (chunk.length >= bounds.lines || chars >= bounds.chars) {
        yield chunk;
        chunk = [];
        chars = 0;
      }
    }
    if (chunk.length > 0) yield chunk;
  }
}

/** Our custom_ids are item ids in canonical UUID form; anything else (even 36 hex digits and dashes elsewhere) is unreadable. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Parses raw result lines into a map by custom_id; lines that are not JSON or carry no id are
 * counted, not fatal. The first line of an id wins: a later line of an id in `seen` (the ids of the
 * file's earlier chunks, which this call extends) is counted as a duplicate and skipped, so no two
 * chunks of a batch name the same item, and the answer kept does not depend on chunk timing.
 * `seen` grows to at most `maxSeen` ids (a batch's request count): past it, a repeat is left to the
 * store's gate, and a file of endless made-up ids cannot grow it without bound.
 */
export function parseLines(
  lines: readonly string[],
  seen: Set<string> = new Set(),
  maxSeen = Infinity,
): { byId: Map<string, Record<string, unknown>>; unreadable: number; duplicates: number } {
  const byId = new Map<string, Record<string, unknown>>();
  let unreadable = 0;
  let duplicates = 0;
  for (const raw of lines) {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      unreadable++;
      continue;
    }
    if (typeof line.custom_id !== 'string' || !UUID.test(line.custom_id)) {
      unreadable++;
      continue;
    }
    const id = line.custom_id.toLowerCase();
    if (seen.has(id) || byId.has(id)) {
      duplicates++;
      continue;
    }
    if (seen.size < maxSeen) seen.add(id);
    byId.set(id, line);
  }
  return { byId, unreadable, duplicates };
}

/**
 * Pulls the next element of `source` while the consumer works on the current one: with a
 * consumer that waits on the database, reading and parsing the next chunk happens in that wait.
 * Holds at most one element beyond the consumer's. Stopping early closes `source`.
 */
export async function* readAhead<T>(source: AsyncIterable<T>): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  const pull = () => {
    const p = it.next();
    p.catch(() => undefined); // observed below; a consumer that stops early must not leave it unhandled
    return p;
  };
  let next = pull();
  let done = false;
  try {
    for (;;) {
      const r = await next;
      if (r.done) {
        done = true;
        return;
      }
      next = pull();
      yield r.value;
    }
  } finally {
    if (!done) await next.then(() => it.return?.(), () => undefined);
  }
}
