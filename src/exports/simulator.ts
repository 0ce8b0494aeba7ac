/**
 * `batchfleet/simulator`: the OpenAI Batch API simulator (the openai-batch-simulator workspace package),
 * re-exported so that fleet users find it under the fleet's name.
 */
export * from 'openai-batch-simulator';
