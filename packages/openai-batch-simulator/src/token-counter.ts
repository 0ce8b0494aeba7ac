/**
 * Where the simulator's token counts come from: by default its own reference counter
 * (./tokens/reference-counter.ts), never the client's estimator, so a client's estimate can be
 * wrong and a test can see it. `startSimulator({ tokenCounter })` injects another one.
 */
export { createReferenceCounter as defaultTokenCounter, type TokenCounter } from './tokens/reference-counter.ts';
