import { malformed } from './body-shape.ts';
import type { CountContext } from './count-context.ts';
import { imageDimensionsFromDataUrl } from './image-dimensions.ts';
import { imageTokensForRule, maxImageTokensForRule, type ImageDetail } from './image-tokens.ts';

/**
 * Reads an image part's `detail`. Missing means `auto`; a value other than low/high/auto (e.g. a newer
 * `original`) is counted as `high`, which over-estimates for tile models.
 */
export function parseDetail(detail: unknown, path: string): ImageDetail {
  if (detail === undefined || detail === null) return 'auto';
  if (typeof detail !== 'string') throw malformed(path, `must be "low", "high" or "auto", got ${typeof detail}`);
  return detail === 'low' || detail === 'auto' ? detail : 'high';
}

/**
 * Tokens of one image input. Sizes are read from base64 `data:` URLs; for remote URLs, file ids or
 * unrecognised data the size is unknown and the largest image the model's formula allows is assumed
 * (an over-estimate by design).
 */
export function imageInputTokens(ctx: CountContext, url: string | undefined, detail: ImageDetail): number {
  const rule = ctx.profile.image;
  const dims = url !== undefined && url.startsWith('data:') ? imageDimensionsFromDataUrl(url) : undefined;
  return dims === undefined
    ? maxImageTokensForRule(rule, detail)
    : imageTokensForRule(rule, dims.width, dims.height, detail);
}
