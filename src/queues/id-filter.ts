/**
 * A Bloom filter over strings, small enough for a job name: about 10 bits per id (8 KiB bits at
 * most), 7 probes, so about 1% false positives (2% at the cap) and no false negatives. A results
 * job's name carries one over its external ids, so a producer that waits for a few ids can tell,
 * from the name alone, which jobs it need not fetch. Pure and dependency-free: the client loads it.
 */

const PROBES = 7;
const BITS_PER_ID = 10;
const MIN_BITS = 64;
const MAX_BITS = 8_192;

/** The two 32-bit hashes of an id; every filter's probe positions derive from them. */
export type IdProbe = readonly [number, number];

function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85eb_ca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2_ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hashes an id once; keep the result to test it against many filters. */
export function idProbe(id: string): IdProbe {
  let a = 0x811c_9dc5;
  let b = 0x9e37_79b9;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    a = Math.imul(a ^ c, 0x0100_0193);
    b = Math.imul(b ^ c, 0x5bd1_e995);
    b ^= b >>> 15;
  }
  return [mix(a), mix(b) | 1];
}

function position(probe: IdProbe, i: number, bits: number): number {
  return ((probe[0] + Math.imul(i, probe[1])) >>> 0) % bits;
}

/** Bytes of the filter over `n` ids. */
export function idFilterBytes(n: number): number {
  return Math.min(MAX_BITS, Math.max(MIN_BITS, Math.ceil((n * BITS_PER_ID) / 8) * 8)) / 8;
}

/** The filter over `ids`, as base64url text (no padding). */
export function idFilter(ids: readonly string[]): string {
  const bytes = new Uint8Array(idFilterBytes(ids.length));
  const bits = bytes.length * 8;
  for (const id of ids) {
    const probe = idProbe(id);
    for (let i = 0; i < PROBES; i++) {
      const p = position(probe, i, bits);
      bytes[p >>> 3]! |= 1 << (p & 7);
    }
  }
  return Buffer.from(bytes).toString('base64url');
}

/** A filter's text decoded for testing; undefined when it is not one. */
export function parseIdFilter(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) return undefined;
  const bytes = new Uint8Array(Buffer.from(text, 'base64url'));
  return bytes.length >= MIN_BITS / 8 ? bytes : undefined;
}

/** False when the id is certainly not in the filter; true when it may be. */
export function mayContain(filter: Uint8Array, probe: IdProbe): boolean {
  const bits = filter.length * 8;
  for (let i = 0; i < PROBES; i++) {
    const p = position(probe, i, bits);
    if ((filter[p >>> 3]! & (1 << (p & 7))) === 0) return false;
  }
  return true;
}
