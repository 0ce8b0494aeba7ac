import type { EncodingName } from './encodings.ts';

/*
 * JavaScript ports of tiktoken's pre-tokenization regexes (`pat_str` in tiktoken's encoder JSON).
 *
 * tiktoken splits text with this regex and runs BPE on every piece independently, so
 * `tokens(text) === Σ tokens(piece)`. Splitting in V8 and caching `piece -> token count` is ~10x faster
 * than handing the whole string to the WASM encoder, and exact as long as the two regexes split the same way.
 * Differences between Rust's `regex`/`fancy-regex` and V8 that matter, and how they are handled:
 *  - `\s` in Rust is Unicode White_Space (includes U+0085, excludes U+FEFF); JS `\s` is the opposite on both.
 *    We spell the White_Space set out.
 *  - `(?i:'s|'t|...)` scoped flags are not supported by Node 20's V8; the case-insensitive contractions are
 *    expanded by hand, including U+017F LATIN SMALL LETTER LONG S, which Unicode case folding maps to `s`.
 * Both engines are leftmost-first backtracking engines here (the pattern has a look-ahead, so fancy-regex
 * backtracks), so alternation order and greedy quantifiers behave the same.
 * The equivalence is checked against the WASM encoder by a fuzz test in test/unit/tokens.test.ts.
 */

/** Unicode White_Space, i.e. Rust regex `\s`. */
const WS = '\\t-\\r \\x85\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000';
const S = `[${WS}]`;
const NOT_S = `[^${WS}]`;
/** `(?i:'s|'t|'re|'ve|'m|'ll|'d)` */
const CONTRACTIONS = "(?:'[sS\\u017F]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";

const UPPERISH = '[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]';
const LOWERISH = '[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]';

/** o200k_base `pat_str`. */
const O200K_SOURCE = [
  `[^\\r\\n\\p{L}\\p{N}]?${UPPERISH}*${LOWERISH}+${CONTRACTIONS}?`,
  `[^\\r\\n\\p{L}\\p{N}]?${UPPERISH}+${LOWERISH}*${CONTRACTIONS}?`,
  '\\p{N}{1,3}',
  ` ?[^${WS}\\p{L}\\p{N}]+[\\r\\n/]*`,
  `${S}*[\\r\\n]+`,
  `${S}+(?!${NOT_S})`,
  `${S}+`,
].join('|');

/** cl100k_base `pat_str`. */
const CL100K_SOURCE = [
  CONTRACTIONS,
  '[^\\r\\n\\p{L}\\p{N}]?\\p{L}+',
  '\\p{N}{1,3}',
  ` ?[^${WS}\\p{L}\\p{N}]+[\\r\\n]*`,
  `${S}*[\\r\\n]+`,
  `${S}+(?!${NOT_S})`,
  `${S}+`,
].join('|');

/**
 * A fresh sticky (`y`) + Unicode (`u`) regex that splits text into the same pieces tiktoken's BPE sees:
 * each match starts where the last one ended (the pattern matches at every position, so the pieces are
 * those of a plain search). Each caller gets its own instance because `lastIndex` is state.
 */
export function createPreTokenizer(encoding: EncodingName): RegExp {
  return new RegExp(encoding === 'o200k_base' ? O200K_SOURCE : CL100K_SOURCE, 'guy');
}
