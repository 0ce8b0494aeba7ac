/**
 * Image input tokens from OpenAI's published formulas (Images & vision guide):
 * - tile-based models (gpt-4o, gpt-4.1, gpt-4o-mini, gpt-5, o1/o3): `detail: "low"` costs the base;
 *   otherwise the image is scaled to fit 2048×2048, then its shortest side to 768 (never upscaled),
 *   and costs `base + tiles × tile` for 512-px tiles;
 * - patch-based models (gpt-4.1-mini/nano, gpt-5-mini/nano, o4-mini): 32-px patches, capped at a
 *   budget of 1,536 by the published rescaling, times the model's multiplier.
 * Image sizes come from the data URL's header bytes (PNG, JPEG, GIF, WebP). A remote URL cannot be
 * measured offline: it is assumed to be `remoteImageSize` (a knob).
 */

/** Width and height in pixels. */
export interface ImageSize {
  width: number;
  height: number;
}

interface TileRule {
  kind: 'tile';
  base: number;
  tile: number;
}
interface PatchRule {
  kind: 'patch';
  multiplier: number;
}

/** The published rule for a model's image tokens (unknown models: the gpt-4o rule, assumed). */
export function imageRule(model: string): TileRule | PatchRule {
  const m = model.toLowerCase();
  if (/^gpt-4\.1-mini|^gpt-5(\.\d+)?-mini/.test(m)) return { kind: 'patch', multiplier: 1.62 };
  if (/^gpt-4\.1-nano|^gpt-5(\.\d+)?-nano/.test(m)) return { kind: 'patch', multiplier: 2.46 };
  if (/^o4-mini/.test(m)) return { kind: 'patch', multiplier: 1.72 };
  if (/^gpt-4o-mini/.test(m)) return { kind: 'tile', base: 2833, tile: 5667 };
  if (/^gpt-5/.test(m)) return { kind: 'tile', base: 70, tile: 140 };
  if (/^o1|^o3/.test(m)) return { kind: 'tile', base: 75, tile: 150 };
  if (/^computer-use/.test(m)) return { kind: 'tile', base: 65, tile: 129 };
  return { kind: 'tile', base: 85, tile: 170 };
}

const ceilish = (x: number): number => Math.ceil(x - 1e-9);

/** Tokens of one image of `size` for `model` at `detail` (`low`, `high` or `auto`, which is treated as high). */
export function imageTokens(model: string, size: ImageSize, detail: string | undefined): number {
  const rule = imageRule(model);
  let { width: w, height: h } = size;
  if (rule.kind === 'patch') {
    const budget = 1536;
    if (ceilish(w / 32) * ceilish(h / 32) > budget) {
      let r = Math.sqrt((32 * 32 * budget) / (w * h));
      r *= Math.min(Math.floor((w * r) / 32) / ((w * r) / 32), Math.floor((h * r) / 32) / ((h * r) / 32));
      w *= r;
      h *= r;
    }
    return Math.round(Math.min(budget, ceilish(w / 32) * ceilish(h / 32)) * rule.multiplier);
  }
  if (detail === 'low') return rule.base;
  if (w > 2048 || h > 2048) {
    const s = 2048 / Math.max(w, h);
    w *= s;
    h *= s;
  }
  const shortest = Math.min(w, h);
  if (shortest > 768) {
    const s = 768 / shortest;
    w *= s;
    h *= s;
  }
  return rule.base + ceilish(w / 512) * ceilish(h / 512) * rule.tile;
}

/** The size of an image in a `data:` URL, read from its header bytes; undefined if unknown. */
export function dataUrlImageSize(url: string): ImageSize | undefined {
  const m = /^data:[^;,]*;base64,(.*)$/s.exec(url);
  if (!m) return undefined;
  const b = Buffer.from((m[1] ?? '').slice(0, 65_536), 'base64');
  if (b.length >= 24 && b.readUInt32BE(0) === 0x89504e47) return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
  if (b.length >= 10 && b.toString('ascii', 0, 3) === 'GIF') return { width: b.readUInt16LE(6), height: b.readUInt16LE(8) };
  if (b.length >= 30 && b.toString('ascii', 0, 4) === 'RIFF' && b.toString('ascii', 8, 12) === 'WEBP') {
    const chunk = b.toString('ascii', 12, 16);
    if (chunk === 'VP8 ') return { width: b.readUInt16LE(26) & 0x3fff, height: b.readUInt16LE(28) & 0x3fff };
    if (chunk === 'VP8L') {
      const bits = b.readUInt32LE(21);
      return { width: (bits & 0x3fff) + 1, height: ((bits >> 14) & 0x3fff) + 1 };
    }
    if (chunk === 'VP8X') return { width: b.readUIntLE(24, 3) + 1, height: b.readUIntLE(27, 3) + 1 };
  }
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {
    let i = 2;
    while (i + 9 < b.length) {
      if (b[i] !== 0xff) return undefined;
      const marker = b[i + 1] ?? 0;
      const len = b.readUInt16BE(i + 2);
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return { width: b.readUInt16BE(i + 7), height: b.readUInt16BE(i + 5) };
      }
      i += 2 + len;
    }
  }
  return undefined;
}
