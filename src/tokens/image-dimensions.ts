/** Pixel size of an image. */
export interface ImageDimensions {
  width: number;
  height: number;
}

/** Give up scanning a JPEG for its frame header after this many decoded bytes. */
const MAX_JPEG_SCAN_BYTES = 4 * 1024 * 1024;

/**
 * Reads width and height from a base64 `data:` URL of a PNG, JPEG, GIF or WebP image by decoding only the
 * bytes the header needs (a few dozen for PNG/GIF/WebP; for JPEG up to the first frame header, which follows
 * EXIF/ICC segments). The format is sniffed from the magic bytes, not the declared MIME type.
 *
 * @returns `undefined` when the URL is not a base64 data URL or the header is not recognised.
 */
export function imageDimensionsFromDataUrl(url: string): ImageDimensions | undefined {
  if (!url.startsWith('data:')) return undefined;
  const comma = url.indexOf(',');
  if (comma === -1) return undefined;
  const meta = url.slice(5, comma).toLowerCase();
  if (!meta.endsWith(';base64')) return undefined;
  const reader = new Base64PrefixReader(url, comma + 1);
  return readImageDimensions(reader);
}

/** Reads width and height from the leading bytes of an encoded PNG, JPEG, GIF or WebP image. */
export function imageDimensionsFromBytes(bytes: Uint8Array): ImageDimensions | undefined {
  return readImageDimensions(new BufferReader(bytes));
}

interface ByteSource {
  /** Makes at least `n` bytes available if the image has them; returns how many are available. */
  ensure(n: number): number;
  readonly bytes: Uint8Array;
}

class BufferReader implements ByteSource {
  constructor(readonly bytes: Uint8Array) {}
  ensure(): number {
    return this.bytes.length;
  }
}

/** Decodes a growing prefix of a base64 payload; decoding any prefix of base64 yields a prefix of the bytes. */
class Base64PrefixReader implements ByteSource {
  bytes: Uint8Array = new Uint8Array(0);
  private decodedChars = 0;

  constructor(
    private readonly text: string,
    private readonly start: number,
  ) {}

  ensure(n: number): number {
    const total = this.text.length - this.start;
    while (this.bytes.length < n && this.decodedChars < total) {
      // Re-decode a prefix at least twice as long: amortised linear, and no carry-over state to get wrong.
      const want = Math.max(Math.ceil(n / 3) * 4, this.decodedChars * 2, 64);
      this.decodedChars = Math.min(total, want + ((4 - (want % 4)) % 4));
      this.bytes = Buffer.from(this.text.slice(this.start, this.start + this.decodedChars), 'base64');
    }
    return this.bytes.length;
  }
}

function readImageDimensions(src: ByteSource): ImageDimensions | undefined {
  if (src.ensure(32) < 10) return undefined;
  const b = src.bytes;
  // PNG: 8-byte signature, then the IHDR chunk (length, "IHDR", width, height as big-endian u32).
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) {
    if (b.length < 24 || ascii(b, 12, 4) !== 'IHDR') return undefined;
    return valid(u32be(b, 16), u32be(b, 20));
  }
  // GIF: "GIF87a"/"GIF89a", then logical screen width and height as little-endian u16.
  if (ascii(b, 0, 4) === 'GIF8') return valid(u16le(b, 6), u16le(b, 8));
  // WebP: "RIFF" size "WEBP", then a VP8 / VP8L / VP8X chunk.
  if (ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 4) === 'WEBP') return readWebp(b);
  // JPEG: SOI, then segments up to a start-of-frame marker.
  if (b[0] === 0xff && b[1] === 0xd8) return readJpeg(src);
  return undefined;
}

function readWebp(b: Uint8Array): ImageDimensions | undefined {
  if (b.length < 30) return undefined;
  const chunk = ascii(b, 12, 4);
  if (chunk === 'VP8 ') {
    // Frame tag (3 bytes) at 20, start code 9d 01 2a at 23, then 14-bit width and height.
    if (b[23] !== 0x9d || b[24] !== 0x01 || b[25] !== 0x2a) return undefined;
    return valid(u16le(b, 26) & 0x3fff, u16le(b, 28) & 0x3fff);
  }
  if (chunk === 'VP8L') {
    if (b[20] !== 0x2f) return undefined;
    const b1 = b[21]!, b2 = b[22]!, b3 = b[23]!, b4 = b[24]!;
    const width = 1 + (((b2 & 0x3f) << 8) | b1);
    const height = 1 + (((b4 & 0x0f) << 10) | (b3 << 2) | ((b2 & 0xc0) >> 6));
    return valid(width, height);
  }
  if (chunk === 'VP8X') {
    // Canvas width-1 and height-1 as 24-bit little-endian at 24 and 27.
    const width = 1 + (b[24]! | (b[25]! << 8) | (b[26]! << 16));
    const height = 1 + (b[27]! | (b[28]! << 8) | (b[29]! << 16));
    return valid(width, height);
  }
  return undefined;
}

function readJpeg(src: ByteSource): ImageDimensions | undefined {
  let pos = 2;
  while (pos < MAX_JPEG_SCAN_BYTES) {
    if (src.ensure(pos + 10) < pos + 4) return undefined;
    const b = src.bytes;
    if (b[pos] !== 0xff) return undefined;
    let marker = b[pos + 1]!;
    while (marker === 0xff) {
      // fill bytes
      pos++;
      if (src.ensure(pos + 10) < pos + 4) return undefined;
      marker = src.bytes[pos + 1]!;
    }
    const bytes = src.bytes;
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      pos += 2; // standalone markers without a length
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) return undefined; // end of image / start of scan before any frame
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) {
      if (bytes.length < pos + 9) return undefined;
      // FF Cx, length (2), precision (1), height (2), width (2)
      return valid(u16be(bytes, pos + 7), u16be(bytes, pos + 5));
    }
    const length = u16be(bytes, pos + 2);
    if (length < 2) return undefined;
    pos += 2 + length;
  }
  return undefined;
}

function valid(width: number, height: number): ImageDimensions | undefined {
  return width > 0 && height > 0 ? { width, height } : undefined;
}

function ascii(b: Uint8Array, at: number, len: number): string {
  let s = '';
  for (let i = at; i < at + len && i < b.length; i++) s += String.fromCharCode(b[i]!);
  return s;
}

function u16le(b: Uint8Array, at: number): number {
  return (b[at] ?? 0) | ((b[at + 1] ?? 0) << 8);
}

function u16be(b: Uint8Array, at: number): number {
  return ((b[at] ?? 0) << 8) | (b[at + 1] ?? 0);
}

function u32be(b: Uint8Array, at: number): number {
  return ((b[at] ?? 0) * 0x1000000) + (((b[at + 1] ?? 0) << 16) | ((b[at + 2] ?? 0) << 8) | (b[at + 3] ?? 0));
}
