import type { Tiktoken } from 'tiktoken';
import { getEncoder, type EncodingName } from './encodings.ts';
import { createPreTokenizer } from './pre-tokenizer.ts';

/** Pieces longer than this are counted by the encoder every time instead of being cached. */
const MAX_CACHED_PIECE_LENGTH = 48;
/** When the piece cache reaches this many entries it is cleared (cheap bound; real text re-fills it quickly). */
const MAX_PIECE_CACHE_ENTRIES = 200_000;

/**
 * Counts the tokens of plain text for one encoding, exactly as `encode_ordinary(text).length` would.
 *
 * Text is split with the encoding's pre-tokenizer regex (see pre-tokenizer.ts) and each piece's BPE token
 * count is memoised, so the WASM encoder only sees pieces it has not seen before. Special-token strings such
 * as `<|endoftext|>` are counted as ordinary text, like `encode_ordinary` (never `encode`, which throws on them).
 */
export class TextTokenizer {
  readonly encoding: EncodingName;
  /** Number of calls into the tiktoken WASM encoder (piece cache misses and over-long pieces). */
  encoderCalls = 0;
  private readonly encoder: Tiktoken;
  private readonly splitter: RegExp;
  private readonly pieces = new Map<string, number>();
  private readonly fastSplit: boolean;

  /**
   * @param fastSplit When false, every string goes whole to the WASM encoder (about 10x slower; a kill
   *   switch should the JS split regex ever disagree with tiktoken's).
   */
  constructor(encoding: EncodingName, fastSplit = true) {
    this.encoding = encoding;
    this.encoder = getEncoder(encoding);
    this.splitter = createPreTokenizer(encoding);
    this.fastSplit = fastSplit;
  }

  /** Number of memoised pieces. */
  get pieceCacheSize(): number {
    return this.pieces.size;
  }

  /** Token count of `text` (no chat formatting). */
  count(text: string): number {
    if (text.length === 0) return 0;
    if (!this.fastSplit) {
      this.encoderCalls++;
      return this.encoder.encode_ordinary(text).length;
    }
    const re = this.splitter;
    const pieces = this.pieces;
    re.lastIndex = 0;
    let total = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      const piece = m[0];
      let n = pieces.get(piece);
      if (n === undefined) {
        this.encoderCalls++;
        n = this.encoder.encode_ordinary(piece).length;
        if (piece.length <= MAX_CACHED_PIECE_LENGTH) {
          if (pieces.size >= MAX_PIECE_CACHE_ENTRIES) pieces.clear();
          pieces.set(piece, n);
        }
      }
      total += n;
    }
    return total;
  }
}
