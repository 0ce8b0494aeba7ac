/*
 * Text that PostgreSQL refuses, found before it reaches the database.
 *
 * PostgreSQL stores neither a NUL character (text: 22021; jsonb: 22P05 "unsupported Unicode escape") nor a
 * lone UTF-16 surrogate (JSON.stringify writes it as `\udXXX`, which jsonb refuses). One such character
 * anywhere in an item used to fail the whole insert, and with it every good item of the job. These helpers
 * find the first offending string (object keys included) and name its JSON path, so the item can be rejected
 * alone with a reason, and make any text safe and short enough for logs, labels and rejection rows.
 */

/** What is wrong with a string. */
export type TextProblem = 'a NUL character' | 'a lone surrogate' | 'too deep nesting';

/** The first unstorable string found in a value: where it is and what it holds. */
export interface TextIssue {
  /** JSON path, e.g. `input.messages[2].text`, or `input["bad\u0000key"]` (key shown escaped). */
  path: string;
  problem: TextProblem;
  /** `"<path> contains a NUL character"`; for a key `"<path> has a key that contains …"`; for depth `"<path> is nested deeper than 64 levels"`. */
  message: string;
}

/** Nesting deeper than this is reported instead of walked (bounds the stack on hostile input). */
export const MAX_DEPTH = 64;

// A NUL, a high surrogate not followed by a low one, or a low surrogate not preceded by a high one.
// eslint-disable-next-line no-control-regex -- finding NUL is the point
const BAD_TEXT = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const BAD_TEXT_GLOBAL = new RegExp(BAD_TEXT.source, 'g');

/** What is wrong with `s`, or null when PostgreSQL can store it. */
export function textProblem(s: string): Exclude<TextProblem, 'too deep nesting'> | null {
  const m = BAD_TEXT.exec(s);
  if (m === null) return null;
  return m[0] === '\u0000' ? 'a NUL character' : 'a lone surrogate';
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function childPath(path: string, key: string): string {
  if (IDENTIFIER.test(key)) return path ? `${path}.${key}` : key;
  return `${path}[${JSON.stringify(truncate(key, 40))}]`;
}

/**
 * Finds the first string or object key in `value` that PostgreSQL cannot store, walking arrays and plain
 * objects depth-first. `path` names `value` itself (e.g. `input`). Returns null when everything is storable.
 * Nesting deeper than {@link MAX_DEPTH} is reported as an issue too.
 */
export function findUnstorableText(value: unknown, path: string): TextIssue | null {
  return walk(value, path, 0);
}

function walk(value: unknown, path: string, depth: number): TextIssue | null {
  if (typeof value === 'string') {
    const problem = textProblem(value);
    return problem ? { path, problem, message: `${path || '(payload)'} contains ${problem}` } : null;
  }
  if (value === null || typeof value !== 'object') return null;
  if (depth >= MAX_DEPTH) {
    return { path, problem: 'too deep nesting', message: `${path || '(payload)'} is nested deeper than ${MAX_DEPTH} levels` };
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const issue = walk(value[i], `${path}[${i}]`, depth + 1);
      if (issue) return issue;
    }
    return null;
  }
  for (const [key, child] of Object.entries(value)) {
    const keyProblem = textProblem(key);
    if (keyProblem) {
      const where = path || '(payload)';
      return { path: `${path}[${JSON.stringify(safeText(key, 40))}]`, problem: keyProblem, message: `${where} has a key that contains ${keyProblem}` };
    }
    const issue = walk(child, childPath(path, key), depth + 1);
    if (issue) return issue;
  }
  return null;
}

/**
 * Cuts `s` to at most `max` characters (never inside a surrogate pair) and says how long it was:
 * `"abc… (1048576 chars)"`. Strings within the limit come back unchanged.
 */
export function truncate(s: string, max = 200): string {
  if (s.length <= max) return s;
  let end = Math.max(0, max);
  const last = s.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${s.slice(0, end)}… (${s.length} chars)`;
}

/**
 * `s` made safe for PostgreSQL text, logs and metric labels: NUL characters and lone surrogates replaced by
 * U+FFFD, then {@link truncate}d to `max` characters.
 */
export function safeText(s: string, max = 200): string {
  const cut = truncate(s, max);
  return BAD_TEXT.test(cut) ? cut.replace(BAD_TEXT_GLOBAL, '\uFFFD') : cut;
}
