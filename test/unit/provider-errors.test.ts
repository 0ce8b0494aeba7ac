import { APIConnectionError, APIError } from 'openai';
import { describe, expect, it } from 'vitest';
import { ProviderError } from '../../src/errors.ts';
import { toProviderError } from '../../src/provider/openai-provider.ts';

const headers = (h: Record<string, string> = {}) => new Headers(h);

describe('toProviderError', () => {
  it('says the HTTP status once: the SDK message already starts with it', () => {
    const sdk = APIError.generate(404, { error: { message: 'No such File object: file-abc', type: 'invalid_request_error' } }, undefined, headers());
    expect(sdk.message).toBe('404 No such File object: file-abc');
    const err = toProviderError(sdk, 'download file') as ProviderError;
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.message).toBe('download file: 404 No such File object: file-abc');
    expect(err.status).toBe(404);
  });

  it('keeps the status for a body-less answer and for errors whose message lacks it', () => {
    expect((toProviderError(APIError.generate(503, undefined, undefined, headers()), 'create batch') as Error).message).toBe('create batch: 503 status code (no body)');
    const bare = new APIError(429, undefined, 'slow down', headers({ 'retry-after': '2' }));
    expect(bare.message).toBe('429 slow down');
    const made = toProviderError(bare, 'upload file') as ProviderError;
    expect(made.message).toBe('upload file: 429 slow down');
    expect(made).toMatchObject({ retryable: true, retryAfterMs: 2_000 });
    const odd = Object.assign(new APIError(400, undefined, 'x', headers()), { message: 'invalid model' });
    expect((toProviderError(odd, 'create batch') as Error).message).toBe('create batch: 400 invalid model');
  });

  it('names a connection failure without a status', () => {
    const err = toProviderError(new APIConnectionError({ message: 'Connection error.' }), 'retrieve batch') as ProviderError;
    expect(err.message).toBe('retrieve batch: connection failed');
    expect(err.retryable).toBe(true);
  });
});
