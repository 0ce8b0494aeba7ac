import { describe, expect, it } from 'vitest';
import { advanceUntil, chatLine, chatLines, createBatch, embeddingLine, jsonl, startTestSimulator, type SimTest } from './helpers.ts';

async function failedWith(t: SimTest, text: string, endpoint: '/v1/chat/completions' | '/v1/embeddings' = '/v1/chat/completions') {
  const b = await createBatch(t.client, text, { endpoint });
  expect(b.status).toBe('validating'); // create answers 200; the failure comes later
  const failed = await advanceUntil(t, b.id, ['failed', 'completed']);
  expect(failed.status).toBe('failed');
  expect(failed.failed_at).toBe(b.created_at + 60);
  expect(failed.output_file_id).toBeNull();
  expect(failed.error_file_id).toBeNull();
  expect(failed.in_progress_at).toBeNull();
  expect(failed.model).toBeNull();
  expect(failed.request_counts).toEqual({ total: 0, completed: 0, failed: 0 });
  expect(failed.errors?.object).toBe('list');
  return failed.errors!.data!;
}

describe('input validation', () => {
  it('invalid_json_line', async () => {
    const t = await startTestSimulator();
    const text = `${JSON.stringify(chatLine('a', 'hi'))}\n{"custom_id": "b", oops\n`;
    expect(await failedWith(t, text)).toEqual([
      { code: 'invalid_json_line', message: 'This line is not parseable as valid JSON.', param: null, line: 2 },
    ]);
  });

  it('a blank line in the middle is invalid, a trailing newline is not', async () => {
    const t = await startTestSimulator();
    const text = `${JSON.stringify(chatLine('a', 'hi'))}\n\n${JSON.stringify(chatLine('b', 'hi'))}\n\n`;
    expect(await failedWith(t, text)).toEqual([expect.objectContaining({ code: 'invalid_json_line', line: 2 })]);
  });

  it('missing custom_id and duplicate_custom_id', async () => {
    const t = await startTestSimulator();
    const noId = { ...chatLine('x', 'hi') };
    delete noId.custom_id;
    const text = jsonl([chatLine('a', 'hi'), noId, chatLine('a', 'again')]);
    expect(await failedWith(t, text)).toEqual([
      { code: 'missing_required_parameter', message: "Missing required parameter: 'custom_id'.", param: 'custom_id', line: 2 },
      {
        code: 'duplicate_custom_id',
        message: "The custom_id 'a' is used by more than one request. Each request in a batch must have a unique custom_id.",
        param: 'custom_id',
        line: 3,
      },
    ]);
  });

  it('url_mismatch', async () => {
    const t = await startTestSimulator();
    const text = jsonl([chatLine('a', 'hi'), embeddingLine('b', 'hi')]);
    expect(await failedWith(t, text)).toEqual([
      {
        code: 'url_mismatch',
        message: "The url '/v1/embeddings' does not match the batch endpoint '/v1/chat/completions'.",
        param: 'url',
        line: 2,
      },
    ]);
  });

  it('model_mismatch', async () => {
    const t = await startTestSimulator();
    const text = jsonl([chatLine('a', 'hi'), chatLine('b', 'hi', { model: 'gpt-4o' })]);
    const errors = await failedWith(t, text);
    expect(errors).toEqual([{ code: 'model_mismatch', message: expect.stringContaining("'gpt-4o'"), param: 'body.model', line: 2 }]);
  });

  it('too_many_tasks above 50,000 requests', async () => {
    const t = await startTestSimulator();
    const one = JSON.stringify(chatLine('x', 'hi'));
    const lines: string[] = [];
    for (let i = 0; i <= 50_000; i++) lines.push(one.replace('"x"', `"r${i}"`));
    expect(await failedWith(t, `${lines.join('\n')}\n`)).toEqual([
      { code: 'too_many_tasks', message: 'The input file contains more than the maximum of 50,000 requests per batch.', param: null, line: null },
    ]);
  });

  it('too_many_tasks with a configured limit, and too many embedding inputs', async () => {
    const t = await startTestSimulator({ scenario: { limits: { maxRequestsPerBatch: 3, maxEmbeddingInputsPerBatch: 4 } } });
    expect((await failedWith(t, jsonl(chatLines(4))))[0]).toMatchObject({ code: 'too_many_tasks', line: null });
    const emb = jsonl([embeddingLine('a', ['one', 'two', 'three']), embeddingLine('b', ['four', 'five'])]);
    expect((await failedWith(t, emb, '/v1/embeddings'))[0]).toMatchObject({ code: 'too_many_tasks', message: expect.stringContaining('5 embedding inputs') });
  });

  it('a file over the size limit (200 MB by default) fails with the real message', async () => {
    const t = await startTestSimulator({ scenario: { limits: { maxInputFileBytes: 1000 } } });
    expect(await failedWith(t, jsonl(chatLines(20)))).toEqual([
      {
        code: 'invalid_request',
        message: 'The batch input file is larger than the 1000 maximum for the gpt-4o-mini model. Please try again with a smaller batch.',
        param: null,
        line: null,
      },
    ]);
  });

  it('empty_file', async () => {
    const t = await startTestSimulator();
    expect(await failedWith(t, '')).toEqual([
      { code: 'empty_file', message: 'The input file is empty. Please ensure that the batch contains at least one request.', param: null, line: null },
    ]);
    expect((await failedWith(t, '\n\n'))[0]?.code).toBe('empty_file');
  });

  it('bad method, missing url, missing body.model', async () => {
    const t = await startTestSimulator();
    const noUrl = { ...chatLine('b', 'hi') };
    delete noUrl.url;
    const noModel = chatLine('c', 'hi');
    delete (noModel.body as Record<string, unknown>).model;
    const text = jsonl([{ ...chatLine('a', 'hi'), method: 'GET' }, noUrl, noModel, 'just a string']);
    expect((await failedWith(t, text)).map((e) => [e.code, e.param, e.line])).toEqual([
      ['invalid_request', 'method', 1],
      ['missing_required_parameter', 'url', 2],
      ['missing_required_parameter', 'body.model', 3],
      ['invalid_request', null, 4],
    ]);
  });

  it('reports at most 100 line errors', async () => {
    const t = await startTestSimulator();
    const text = Array.from({ length: 150 }, () => 'not json').join('\n');
    const errors = await failedWith(t, text);
    expect(errors).toHaveLength(100);
    expect(errors[99]?.line).toBe(100);
  });
});
