import { baseModelName } from './encodings.ts';
import { TokenEstimationError } from './errors.ts';

/** The `detail` setting of an image input. */
export type ImageDetail = 'low' | 'high' | 'auto';

/**
 * How a model turns an image into tokens (OpenAI Images & vision guide, reference §7.2).
 * - `tile`: `low` = `base`; `high`/`auto` = fit in 2048x2048, shrink so the shortest side is 768, then
 *   `base + tile × (number of 512-px tiles)`.
 * - `patch`: 32-px patches, scaled down to at most `budget` patches, times `multiplier`.
 */
export type ImageRule =
  | { readonly kind: 'tile'; readonly base: number; readonly tile: number }
  | { readonly kind: 'patch'; readonly budget: number; readonly multiplier: number };

const TILE_4O: ImageRule = { kind: 'tile', base: 85, tile: 170 };
const TILE_4O_MINI: ImageRule = { kind: 'tile', base: 2833, tile: 5667 };
const TILE_GPT5: ImageRule = { kind: 'tile', base: 70, tile: 140 };
const TILE_O1_O3: ImageRule = { kind: 'tile', base: 75, tile: 150 };
const TILE_CUA: ImageRule = { kind: 'tile', base: 65, tile: 129 };
const PATCH_MINI: ImageRule = { kind: 'patch', budget: 1536, multiplier: 1.62 };
const PATCH_NANO: ImageRule = { kind: 'patch', budget: 1536, multiplier: 2.46 };
const PATCH_O4_MINI: ImageRule = { kind: 'patch', budget: 1536, multiplier: 1.72 };
/** GUESS: the 2026 guide gives gpt-5.4 a 2,500-patch `high` budget but no multiplier; 1 is assumed. */
const PATCH_GPT54: ImageRule = { kind: 'patch', budget: 2500, multiplier: 1 };

/** Tolerance for floating-point noise before `ceil` (e.g. 1056.0000000002 px must stay 33 patches). */
const EPS = 1e-9;

/**
 * The image rule for a model. Families from the guide's table: gpt-5 70/140, gpt-4o/4.1/4.5 85/170,
 * gpt-4o-mini 2833/5667, o1/o1-pro/o3 75/150, computer-use-preview 65/129; patch models gpt-4.1-mini/nano,
 * gpt-5-mini/nano (and gpt-5.x-mini/nano), o4-mini; gpt-5.4 uses patches with a 2,500 budget.
 * GUESSES: other gpt-5.x models are assumed to keep gpt-5's 70/140 tiles, and unknown models get gpt-4o's
 * 85/170 tiles.
 */
export function imageRuleForModel(model: string): ImageRule {
  const m = baseModelName(model);
  if (/^gpt-5(\.\d+)?-mini/.test(m)) return PATCH_MINI;
  if (/^gpt-5(\.\d+)?-nano/.test(m)) return PATCH_NANO;
  if (m.startsWith('gpt-5.4')) return PATCH_GPT54;
  if (m.startsWith('gpt-5')) return TILE_GPT5;
  if (m.startsWith('gpt-4.1-mini')) return PATCH_MINI;
  if (m.startsWith('gpt-4.1-nano')) return PATCH_NANO;
  if (m.startsWith('o4-mini')) return PATCH_O4_MINI;
  if (m.startsWith('gpt-4o-mini')) return TILE_4O_MINI;
  if (m.startsWith('o1') || m.startsWith('o3')) return TILE_O1_O3;
  if (m.startsWith('computer-use-preview')) return TILE_CUA;
  // gpt-4o, chatgpt-4o, gpt-4.1, gpt-4.5, gpt-4-turbo / vision, and (guess) anything else.
  return TILE_4O;
}

/**
 * Input tokens of one image of `width`×`height` pixels for `model` (OpenAI Images & vision guide).
 *
 * Tile models: `low` costs the base; `high` and `auto` are both counted as `high` (with `auto` the API may
 * pick `low` for small images, so this over-estimates). Small images are not scaled up. Scaled sizes are
 * kept fractional, so a side that lands just past a tile boundary counts an extra tile (over-estimate).
 *
 * Patch models ignore `detail` (counted as full detail, an over-estimate if the API honours `low`):
 * `patches = ceil(w/32)·ceil(h/32)`; above the budget the image is scaled by
 * `r = sqrt(32²·budget/(w·h))`, then `r` is shrunk so both sides hold a whole number of patches; the result
 * is `ceil(patches × multiplier)` — rounding UP is our choice (e.g. gpt-4.1-mini 1452 patches -> 2353).
 *
 * @throws TokenEstimationError if width or height is not a positive finite number.
 */
export function imageTokens(model: string, width: number, height: number, detail: ImageDetail = 'auto'): number {
  if (!(Number.isFinite(width) && width > 0 && Number.isFinite(height) && height > 0)) {
    throw new TokenEstimationError(
      `image width and height must be positive numbers, got ${String(width)}x${String(height)}`,
      { code: 'INVALID_ARGUMENT' },
    );
  }
  return imageTokensForRule(imageRuleForModel(model), width, height, detail);
}

/** {@link imageTokens} for an explicit rule. */
export function imageTokensForRule(rule: ImageRule, width: number, height: number, detail: ImageDetail): number {
  if (rule.kind === 'patch') return Math.ceil(patchCount(width, height, rule.budget) * rule.multiplier - EPS);
  if (detail === 'low') return rule.base;
  return rule.base + rule.tile * tileCount(width, height);
}

/**
 * Tokens of an image whose size is unknown (a remote URL, a file id): the largest image the formula allows.
 * Tile models: 768×2048 after scaling = 2×4 = 8 tiles (`low` still costs only the base).
 * Patch models: the full patch budget.
 */
export function maxImageTokens(model: string, detail: ImageDetail = 'auto'): number {
  return maxImageTokensForRule(imageRuleForModel(model), detail);
}

/** {@link maxImageTokens} for an explicit rule. */
export function maxImageTokensForRule(rule: ImageRule, detail: ImageDetail): number {
  if (rule.kind === 'patch') return Math.ceil(rule.budget * rule.multiplier - EPS);
  return detail === 'low' ? rule.base : rule.base + rule.tile * 8;
}

/** Number of 512-px tiles after fitting into 2048×2048 and shrinking the shortest side to 768. */
export function tileCount(width: number, height: number): number {
  let w = width;
  let h = height;
  const longest = Math.max(w, h);
  if (longest > 2048) {
    const s = 2048 / longest;
    w *= s;
    h *= s;
  }
  const shortest = Math.min(w, h);
  if (shortest > 768) {
    const s = 768 / shortest;
    w *= s;
    h *= s;
  }
  return Math.ceil(w / 512 - EPS) * Math.ceil(h / 512 - EPS);
}

/** Number of 32-px patches, scaled down to fit `budget` as the guide describes. */
export function patchCount(width: number, height: number, budget = 1536): number {
  const raw = Math.ceil(width / 32 - EPS) * Math.ceil(height / 32 - EPS);
  if (raw <= budget) return raw;
  let r = Math.sqrt((32 * 32 * budget) / (width * height));
  const wp = (width * r) / 32;
  const hp = (height * r) / 32;
  r *= Math.min(Math.max(1, Math.floor(wp)) / wp, Math.max(1, Math.floor(hp)) / hp);
  const patches = Math.ceil((width * r) / 32 - EPS) * Math.ceil((height * r) / 32 - EPS);
  return Math.min(patches, budget);
}
