/**
 * Input-token estimation for OpenAI Batch API request bodies (batchfleet's packing hot path).
 *
 * Exact where OpenAI's rule is published and verified against API usage (cookbook chat/tools rule on
 * gpt-4o, gpt-4o-mini, gpt-4, gpt-3.5-turbo; image formulas; embeddings); elsewhere deliberately a little
 * high, because under-counting can push a batch file past its enqueued-token limit.
 */
export { createTokenCounter, SUPPORTED_ENDPOINTS } from './token-counter.ts';
export type { SupportedEndpoint, TokenCounter, TokenCounterOptions, TokenCounterStats } from './token-counter.ts';
export { encodingForModel, isKnownModelFamily, baseModelName } from './encodings.ts';
export type { EncodingName } from './encodings.ts';
export { imageTokens, maxImageTokens, imageRuleForModel, tileCount, patchCount } from './image-tokens.ts';
export type { ImageDetail, ImageRule } from './image-tokens.ts';
export { imageDimensionsFromDataUrl, imageDimensionsFromBytes } from './image-dimensions.ts';
export type { ImageDimensions } from './image-dimensions.ts';
export { TokenEstimationError } from './errors.ts';
export type { TokenEstimationErrorCode, TokenEstimationErrorOptions } from './errors.ts';
export { LruCache } from './lru-cache.ts';
export type { LruCacheOptions } from './lru-cache.ts';
export { CONTENT_PART_OVERHEAD, TOOL_CALL_OVERHEAD } from './chat-messages.ts';
export { RESPONSE_FORMAT_OVERHEAD } from './response-format.ts';
export { modelProfile, RESPONSES_OVERHEADS } from './model-profile.ts';
export type { ChatOverheads, ModelProfile, ToolOverheads } from './model-profile.ts';
