import type { Tiktoken } from 'tiktoken';
import { getEncoder, type EncodingName } from './encodings.ts';
import { TokenEstimationError } from './errors.ts';
import { createPreTokenizer } from './pre-tokenizer.ts';

/** Pieces longer than this are counted by the encoder every time instead of being cached. */
const MAX_CACHED_PIECE_LENGTH = 48;
/** When the piece cache reaches this many entries it is cleared (cheap bound; real text re-fills it quickly). */
const MAX_PIECE_CACHE_ENTRIES = 200_000;
/**
 * Pieces up to this long go whole to the BPE encoder, so their count is exact. Real text never comes close
 * (a piece is one word, number group, punctuation run or whitespace run); only runs such as 100,000 letters
 * without a space do, and BPE time grows with the square of a piece's length.
 */
export const MAX_EXACT_PIECE_LENGTH = 1_024;
/** Over-long pieces are counted in chunks of about this many UTF-8 bytes (never splitting a character). */
export const PIECE_CHUNK_BYTES = 256;
/** Without the fast split, texts up to this long go whole to the encoder; longer ones are chunked. */
const MAX_WHOLE_TEXT_LENGTH = 16_384;
/**
 * Texts longer than this many UTF-16 code units are refused with a {@link TokenEstimationError} (code
 * `INPUT_TOO_LARGE`): about 4 MB of text, already more than any model's context window. It bounds the time
 * one call can take (counting runs at well under a second per million characters).
 */
export const DEFAULT_MAX_TEXT_LENGTH = 4_000_000;

/**
 * Counts the tokens of plain text for one encoding, exactly as `encode_ordinary(text).length` would.
 *
 * Text is split with the encoding's pre-tokenizer regex (see pre-tokenizer.ts) and each piece's BPE token
 * count is memoised, so the WASM encoder only sees pieces it has not seen before. Special-token strings such
 * as `<|endoftext|>` are counted as ordinary text, like `encode_ordinary` (never `encode`, which throws on them).
 *
 * Time and memory are bounded whatever the input: a piece longer than {@link MAX_EXACT_PIECE_LENGTH} is
 * counted in chunks of about {@link PIECE_CHUNK_BYTES} UTF-8 bytes, plus one token per chunk boundary. BPE across a cut can
 * differ from the chunk sum by a token or two either way; the extra token per boundary makes the count err
 * high (as the budget needs), never low. Normal text has no such pieces and is counted exactly.
 */
export class TextTokenizer {
  readonly encoding: EncodingName;
  /** Number of calls into the tiktoken WASM encoder (piece cache misses and over-long pieces). */
  encoderCalls = 0;
  private readonly encoder: Tiktoken;
  private readonly splitter: RegExp;
  private readonly pieces = new Map<string, number>();
  private readonly fastSplit: boolean;
  /** {@link DEFAULT_MAX_TEXT_LENGTH} unless set. */
  readonly maxTextLength: number;

  /**
   * @param fastSplit When false, every string goes whole to the WASM encoder (about 10x slower; a kill
   *   switch should the JS split regex ever disagree with tiktoken's). Texts longer than
   *   {@link MAX_WHOLE_TEXT_LENGTH} are then counted in chunks (erring high) to keep the time bounded.
   * @param maxTextLength Longer texts are refused (see {@link DEFAULT_MAX_TEXT_LENGTH}).
   */
  constructor(encoding: EncodingName, fastSplit = true, maxTextLength = DEFAULT_MAX_TEXT_LENGTH) {
    this.encoding = encoding;
    this.maxTextLength = maxTextLength;
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
    if (text.length > this.maxTextLength) {
      throw new TokenEstimationError(
        `text is ${text.length} characters long, more than the ${this.maxTextLength} the token counter accepts`,
        { code: 'INPUT_TOO_LARGE' },
      );
    }
    if (!this.fastSplit) return this.countWhole(text);
    // Sticky: each piece must start where the last one ended, so `test` (no match array to
    // allocate) gives the piece's end and the last end its start: 25 % less time than `exec`.
    const re = this.splitter;
    re.lastIndex = 0;
    let total = 0;
    let start = 0;
    while (start < text.length && re.test(text)) {
      const end = re.lastIndex;
      total += this.countPiece(text.slice(start, end));
      start = end;
    }
    // The pattern matches at every position of any string, so this does not run; if it did, the
    // encoder counts the rest itself (a piece boundary, so the sum stays exact).
    if (start < text.length) total += this.countWhole(text.slice(start));
    return total;
  }

  /** `text` counted by the encoder alone: whole up to {@link MAX_WHOLE_TEXT_LENGTH}, in chunks beyond. */
  private countWhole(text: string): number {
    if (text.length > MAX_WHOLE_TEXT_LENGTH) return this.countLong(text);
    this.encoderCalls++;
    return this.encoder.encode_ordinary(text).length;
  }

  private countPiece(piece: string): number {
    const pieces = this.pieces;
    const n = pieces.get(piece);
    if (n !== undefined) return n;
    if (piece.length > MAX_EXACT_PIECE_LENGTH) return this.countLong(piece);
    this.encoderCalls++;
    const count = this.encoder.encode_ordinary(piece).length;
    if (piece.length <= MAX_CACHED_PIECE_LENGTH) {
      if (pieces.size >= MAX_PIECE_CACHE_ENTRIES) pieces.clear();
      pieces.set(piece, count);
    }
    return count;
  }

  /** Counts an over-long piece (or, without the fast split, a long text) in bounded chunks; errs high. */
  private countLong(text: string): number {
    let total = 0;
    let chunks = 0;
    let start = 0;
    while (start < text.length) {
      // Cut after PIECE_CHUNK_BYTES of UTF-8 (BPE works on bytes), never inside a surrogate pair.
      let end = start;
      let bytes = 0;
      while (end < text.length && bytes < PIECE_CHUNK_BYTES) {
        const c = text.charCodeAt(end);
        if (c >= 0xd800 && c <= 0xdbff && end + 1 < text.length) {
          bytes += 4;
          end += 2;
        } else {
          bytes += c < 0x80 ? 1 : c < 0x800 ? 2 : 3;
          end++;
        }
      }
      this.encoderCalls++;
      total += this.encoder.encode_ordinary(text.slice(start, end)).length;
      chunks++;
      start = end;
    }
    return total + chunks - 1;
  }
}
