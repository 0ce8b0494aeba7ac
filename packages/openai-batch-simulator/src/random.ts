/**
 * Seeded, order-independent randomness. Every decision the simulator makes (faults, generated
 * content) is a pure function of the seed and a few named inputs, so a given seed reproduces a run.
 */
import { hash } from 'node:crypto';

/**
 * SHA-256 of the parts, each followed by a NUL (the bytes `update(part).update('\0')` hashed, in one
 * call): the one-shot `crypto.hash` makes no Hash object, which halves the cost of the several ids and
 * rolls every result line needs.
 */
export function digestOf(parts: ReadonlyArray<string | number>, encoding: 'hex'): string;
export function digestOf(parts: ReadonlyArray<string | number>, encoding: 'buffer'): Buffer;
export function digestOf(parts: ReadonlyArray<string | number>, encoding: 'hex' | 'buffer'): string | Buffer {
  const text = joined(parts);
  return encoding === 'hex' ? hash('sha256', text, 'hex') : hash('sha256', text, 'buffer');
}

function joined(parts: ReadonlyArray<string | number>): string {
  let text = '';
  for (const p of parts) text += `${p}\u0000`;
  return text;
}

/**
 * SHA-512 of the parts (joined as in {@link digestOf}): 64 bytes, enough for every id and draw one
 * result line needs from a single hash (see `lineKeys` in batch-engine.ts).
 */
export function wideDigestOf(parts: ReadonlyArray<string | number>): Buffer {
  return hash('sha512', joined(parts), 'buffer');
}

/** A uniform number in [0, 1) derived from the parts. */
export function roll(...parts: Array<string | number>): number {
  const d = digestOf(parts, 'buffer');
  // 48 bits are plenty and stay exact in a double.
  return d.readUIntBE(0, 6) / 2 ** 48;
}

/** A 32-bit seed derived from the parts. */
export function seed32(...parts: Array<string | number>): number {
  return digestOf(parts, 'buffer').readUInt32BE(0);
}

/** A small fast PRNG (sfc32) for generating content once a seed is derived. */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Integer in [min, max] inclusive. */
  int(min: number, max: number): number;
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
}

/** Create a PRNG from a 32-bit seed. */
export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  let b = 0x9e3779b9;
  let c = 0x243f6a88;
  let d = 0xb7e15162 ^ a;
  const next = (): number => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new RangeError('pick() from an empty array');
      return items[Math.floor(next() * items.length)] as T;
    },
  };
}

/** JSON text with object keys sorted, so equal values hash equally. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  return `{${Object.keys(obj)
    .sort()
    .filter((k) => obj[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`)
    .join(',')}}`;
}
