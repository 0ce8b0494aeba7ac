/**
 * A small JSON Schema driven value generator, for chat requests whose `response_format` is a
 * `json_schema`. It understands what Structured Outputs accepts: object (properties, required),
 * string (enum, const, format, minLength/maxLength), number/integer (minimum/maximum),
 * boolean, null, array (items, minItems/maxItems), type unions, anyOf/oneOf, local `$ref`s.
 * All choices come from the given RNG, which the caller seeds from the request, so the same
 * request always gets the same value and different requests get different enum labels.
 */
import type { Rng } from './random.ts';

type Schema = Record<string, unknown>;

const WORDS = [
  'clear', 'useful', 'quality', 'fast', 'delivery', 'service', 'price', 'value', 'support', 'design',
  'battery', 'screen', 'friendly', 'reliable', 'simple', 'solid', 'issue', 'refund', 'order', 'package',
  'summary', 'customer', 'product', 'feature', 'update', 'account', 'detail', 'result', 'review', 'report',
];

const MAX_DEPTH = 12;

/** Generate a value that validates against `schema`. `words` seeds the strings with input text. */
export function fakeFromSchema(schema: unknown, rng: Rng, words: readonly string[] = []): unknown {
  const root = isObj(schema) ? schema : {};
  return gen(root, root, rng, words, 0);
}

function isObj(v: unknown): v is Schema {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function deref(schema: Schema, root: Schema): Schema {
  let s = schema;
  for (let i = 0; i < 16 && typeof s.$ref === 'string'; i++) {
    const ref = s.$ref as string;
    if (!ref.startsWith('#')) return {};
    const parts = ref
      .slice(1)
      .split('/')
      .filter(Boolean)
      .map((p) => decodeURIComponent(p.replace(/~1/g, '/').replace(/~0/g, '~')));
    let cur: unknown = root;
    for (const p of parts) cur = isObj(cur) ? cur[p] : undefined;
    s = isObj(cur) ? cur : {};
  }
  return s;
}

function typesOf(schema: Schema): string[] {
  const t = schema.type;
  if (typeof t === 'string') return [t];
  if (Array.isArray(t)) return t.filter((x): x is string => typeof x === 'string');
  if (isObj(schema.properties)) return ['object'];
  if (schema.items !== undefined) return ['array'];
  return ['string'];
}

function gen(schemaIn: Schema, root: Schema, rng: Rng, words: readonly string[], depth: number): unknown {
  const schema = deref(schemaIn, root);
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return rng.pick(schema.enum);
  const alts = (Array.isArray(schema.anyOf) ? schema.anyOf : Array.isArray(schema.oneOf) ? schema.oneOf : null) as
    | unknown[]
    | null;
  if (alts && alts.length > 0) {
    // Prefer a non-null alternative so the output carries information; pick among them by RNG.
    const nonNull = alts.filter((a) => !(isObj(a) && a.type === 'null'));
    const chosen = rng.pick(nonNull.length > 0 ? nonNull : alts);
    return gen(isObj(chosen) ? chosen : {}, root, rng, words, depth + 1);
  }
  if (Array.isArray(schema.allOf) && schema.allOf.length > 0) {
    const merged: Schema = {};
    for (const part of schema.allOf) if (isObj(part)) Object.assign(merged, deref(part, root));
    return gen(merged, root, rng, words, depth + 1);
  }
  const types = typesOf(schema);
  const nonNull = types.filter((t) => t !== 'null');
  const type = nonNull.length > 0 ? rng.pick(nonNull) : 'null';
  if (depth > MAX_DEPTH) return type === 'array' ? [] : type === 'object' ? {} : null;
  switch (type) {
    case 'null':
      return null;
    case 'boolean':
      return rng.next() < 0.5;
    case 'integer': {
      const { lo, hi } = bounds(schema, true);
      return rng.int(lo, hi);
    }
    case 'number': {
      const { lo, hi } = bounds(schema, false);
      return Math.round((lo + rng.next() * (hi - lo)) * 100) / 100;
    }
    case 'array': {
      const min = typeof schema.minItems === 'number' ? schema.minItems : 1;
      const max = typeof schema.maxItems === 'number' ? schema.maxItems : Math.max(min, 3);
      const n = rng.int(min, Math.max(min, max));
      const items = isObj(schema.items) ? schema.items : {};
      return Array.from({ length: n }, () => gen(items, root, rng, words, depth + 1));
    }
    case 'object': {
      const out: Record<string, unknown> = {};
      const props = isObj(schema.properties) ? schema.properties : {};
      for (const [key, sub] of Object.entries(props)) {
        out[key] = gen(isObj(sub) ? sub : {}, root, rng, words, depth + 1);
      }
      return out;
    }
    default:
      return fakeString(schema, rng, words);
  }
}

function bounds(schema: Schema, integer: boolean): { lo: number; hi: number } {
  let lo = typeof schema.minimum === 'number' ? schema.minimum : 0;
  let hi = typeof schema.maximum === 'number' ? schema.maximum : lo + 100;
  if (typeof schema.exclusiveMinimum === 'number') lo = schema.exclusiveMinimum + (integer ? 1 : 0.01);
  if (typeof schema.exclusiveMaximum === 'number') hi = schema.exclusiveMaximum - (integer ? 1 : 0.01);
  if (integer) {
    lo = Math.ceil(lo);
    hi = Math.floor(hi);
  }
  if (hi < lo) hi = lo;
  return { lo, hi };
}

function fakeString(schema: Schema, rng: Rng, words: readonly string[]): string {
  const pool = words.length >= 3 ? words : WORDS;
  let s: string;
  switch (schema.format) {
    case 'date':
      s = `2025-${String(rng.int(1, 12)).padStart(2, '0')}-${String(rng.int(1, 28)).padStart(2, '0')}`;
      break;
    case 'date-time':
      s = `2025-${String(rng.int(1, 12)).padStart(2, '0')}-${String(rng.int(1, 28)).padStart(2, '0')}T12:00:00Z`;
      break;
    case 'email':
      s = `${rng.pick(WORDS)}@example.com`;
      break;
    case 'uuid':
      s = Array.from({ length: 32 }, () => '0123456789abcdef'[rng.int(0, 15)]).join('');
      s = `${s.slice(0, 8)}-${s.slice(8, 12)}-4${s.slice(13, 16)}-8${s.slice(17, 20)}-${s.slice(20, 32)}`;
      break;
    default: {
      const n = rng.int(2, 6);
      s = Array.from({ length: n }, () => rng.pick(pool)).join(' ');
    }
  }
  const min = typeof schema.minLength === 'number' ? schema.minLength : 0;
  const max = typeof schema.maxLength === 'number' ? schema.maxLength : Infinity;
  while (s.length < min) s += ` ${rng.pick(WORDS)}`;
  if (s.length > max) s = s.slice(0, max);
  return s;
}

/**
 * Break a valid value so that it no longer validates against `schema` while staying valid JSON:
 * drop a required property, put a label outside an enum, or give a field the wrong type.
 */
export function violateSchema(schemaIn: unknown, value: unknown, rng: Rng): unknown {
  const root = isObj(schemaIn) ? schemaIn : {};
  const schema = deref(root, root);
  if (isObj(value) && isObj(schema.properties)) {
    const copy: Record<string, unknown> = { ...value };
    const required = Array.isArray(schema.required) ? schema.required.filter((k): k is string => typeof k === 'string') : [];
    if (required.length > 0) {
      delete copy[rng.pick(required)];
      return copy;
    }
    const keys = Object.keys(schema.properties);
    if (keys.length > 0) {
      const key = rng.pick(keys);
      const sub = deref(isObj(schema.properties[key]) ? (schema.properties[key] as Schema) : {}, root);
      copy[key] = wrongTypeFor(sub);
      return copy;
    }
  }
  return wrongTypeFor(schema);
}

function wrongTypeFor(schema: Schema): unknown {
  if (Array.isArray(schema.enum)) return '__not_a_valid_label__';
  const types = typesOf(schema);
  if (types.includes('string')) return 12345;
  if (types.includes('number') || types.includes('integer')) return 'not a number';
  if (types.includes('boolean')) return 'yes';
  if (types.includes('array')) return { not: 'an array' };
  if (types.includes('object')) return ['not', 'an', 'object'];
  return { unexpected: true };
}
