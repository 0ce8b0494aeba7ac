import type { BatchProvider } from '../../provider/provider.ts';

/** The lines of a batch's output and error files, streamed, in chunks of at most `size` lines. */
export async function* fileChunks(provider: BatchProvider, fileIds: ReadonlyArray<string | null>, size: number): AsyncGenerator<string[]> {
  for (const fileId of fileIds) {
    if (!fileId) continue;
    let chunk: string[] = [];
    for await (const line of provider.fileLines(fileId)) {
      chunk.push(line);
      if (chunk.length >= size) {
        yield chunk;
        chunk = [];
      }
    }
    if (chunk.length > 0) yield chunk;
  }
}

/** Parses raw result lines into a map by custom_id; lines that are not JSON or carry no id are counted, not fatal. */
export function parseLines(lines: readonly string[]): { byId: Map<string, Record<string, unknown>>; unreadable: number } {
  const byId = new Map<string, Record<string, unknown>>();
  let unreadable = 0;
  for (const raw of lines) {
    try {
      const line = JSON.parse(raw) as Record<string, unknown>;
      if (typeof line.custom_id === 'string' && /^[0-9a-f-]{36}$/i.test(line.custom_id)) byId.set(line.custom_id.toLowerCase(), line);
      else unreadable++;
    } catch {
      unreadable++;
    }
  }
  return { byId, unreadable };
}
