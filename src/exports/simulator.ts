/**
 * `batchfleet/simulator`: the OpenAI Batch API simulator, re-exported from where it lives so that
 * this entry point can be repointed (at the workspace package) without changing importers.
 */
export * from '../simulator/index.ts';
