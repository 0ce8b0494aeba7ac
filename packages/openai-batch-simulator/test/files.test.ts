import { readdir } from 'node:fs/promises';
import OpenAI, { toFile } from 'openai';
import { describe, expect, it } from 'vitest';
import { FileStore } from '../src/file-store.ts';
import { check, chatLines, jsonl, startTestSimulator, uploadBatchFile, wire } from './helpers.ts';

describe('files', () => {
  it('uploads, retrieves, downloads and deletes through the SDK', async () => {
    const t = await startTestSimulator();
    const text = jsonl(chatLines(3));
    const f = await uploadBatchFile(t.client, text, 'my input.jsonl');
    expect(f).toMatchObject({ object: 'file', bytes: Buffer.byteLength(text), filename: 'my input.jsonl', purpose: 'batch', status: 'processed', status_details: null });
    expect(f.expires_at).toBe(f.created_at + 30 * 86_400);

    expect(await t.client.files.retrieve(f.id)).toEqual(f);
    const content = await t.client.files.content(f.id);
    expect(await content.text()).toBe(text);

    const del = await t.client.files.delete(f.id);
    expect(del).toEqual({ id: f.id, object: 'file', deleted: true });
    await expect(t.client.files.retrieve(f.id)).rejects.toMatchObject({ status: 404 });
    await expect(t.client.files.content(f.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(t.client.files.delete(f.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('honours expires_after in bracket (SDK) and dot notation, and rejects bad values', async () => {
    const t = await startTestSimulator();
    const bracket = await t.client.files.create({
      file: await toFile(Buffer.from(jsonl(chatLines(1))), 'a.jsonl'),
      purpose: 'batch',
      expires_after: { anchor: 'created_at', seconds: 7200 },
    });
    expect(bracket.expires_at).toBe(bracket.created_at + 7200);

    const form = new FormData();
    form.append('purpose', 'user_data');
    form.append('expires_after.anchor', 'created_at');
    form.append('expires_after.seconds', '3600');
    form.append('file', new Blob(['hello']), 'b.txt');
    const res = await fetch(`${t.sim.url}/files`, { method: 'POST', headers: { authorization: `Bearer ${t.apiKey}` }, body: form });
    const dot = (await res.json()) as OpenAI.Files.FileObject;
    expect(check(wire.file, dot, 'dot upload')).toEqual([]);
    expect(dot.expires_at).toBe(dot.created_at + 3600);
    expect(dot.purpose).toBe('user_data');

    // user_data files do not expire by default
    const keep = await t.client.files.create({ file: await toFile(Buffer.from('x'), 'c.txt'), purpose: 'user_data' });
    expect(keep.expires_at).toBeNull();

    await expect(
      t.client.files.create({ file: await toFile(Buffer.from('x'), 'd.txt'), purpose: 'batch', expires_after: { anchor: 'created_at', seconds: 60 } }),
    ).rejects.toMatchObject({ status: 400, param: 'expires_after.seconds' });
    await expect(
      t.client.files.create({ file: await toFile(Buffer.from('x'), 'd.txt'), purpose: 'nonsense' as 'batch' }),
    ).rejects.toMatchObject({ status: 400, param: 'purpose', code: 'invalid_value' });

    // The file expires on the simulated clock.
    t.sim.clock.advance(7200);
    await expect(t.client.files.retrieve(bracket.id)).rejects.toMatchObject({ status: 404 });
  });

  it('rejects a missing file or purpose with OpenAI-shaped 400s', async () => {
    const t = await startTestSimulator();
    const noFile = new FormData();
    noFile.append('purpose', 'batch');
    const r1 = await fetch(`${t.sim.url}/files`, { method: 'POST', headers: { authorization: `Bearer ${t.apiKey}` }, body: noFile });
    expect(r1.status).toBe(400);
    expect(((await r1.json()) as { error: { param: string } }).error.param).toBe('file');

    const noPurpose = new FormData();
    noPurpose.append('file', new Blob(['x']), 'x.jsonl');
    const r2 = await fetch(`${t.sim.url}/files`, { method: 'POST', headers: { authorization: `Bearer ${t.apiKey}` }, body: noPurpose });
    expect(r2.status).toBe(400);
    const body = (await r2.json()) as { error: unknown };
    expect(check(wire.error, body, 'missing purpose')).toEqual([]);
    expect(body).toEqual({ error: { message: "Missing required parameter: 'purpose'.", type: 'invalid_request_error', param: 'purpose', code: 'missing_required_parameter' } });
  });

  it('lists with purpose, order, limit and after, and auto-paginates with for await', async () => {
    const t = await startTestSimulator();
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      ids.push((await uploadBatchFile(t.client, jsonl(chatLines(1, `f${i}`)), `f${i}.jsonl`)).id);
      t.sim.clock.advance(1);
    }
    await t.client.files.create({ file: await toFile(Buffer.from('x'), 'other.txt'), purpose: 'user_data' });

    const first = await t.client.files.list({ purpose: 'batch', limit: 3 });
    expect(first.data.map((f) => f.id)).toEqual(ids.slice().reverse().slice(0, 3));
    expect(first.has_more).toBe(true);

    const seen: string[] = [];
    for await (const f of t.client.files.list({ purpose: 'batch', limit: 3 })) seen.push(f.id);
    expect(seen).toEqual(ids.slice().reverse());

    const asc: string[] = [];
    for await (const f of t.client.files.list({ purpose: 'batch', limit: 2, order: 'asc' })) asc.push(f.id);
    expect(asc).toEqual(ids);

    const all = await t.client.files.list();
    expect(all.data).toHaveLength(8);
    expect(all.has_more).toBe(false);

    const empty = await t.client.files.list({ purpose: 'vision' });
    expect(empty.data).toEqual([]);
    await expect(t.client.files.list({ limit: 0 })).rejects.toMatchObject({ status: 400, param: 'limit' });
  });

  it('keeps clients apart and requires an API key', async () => {
    const t = await startTestSimulator();
    const f = await uploadBatchFile(t.client, jsonl(chatLines(1)));
    const other = t.newClient();
    await expect(other.files.retrieve(f.id)).rejects.toMatchObject({ status: 404 });
    expect((await other.files.list()).data).toEqual([]);

    const res = await fetch(`${t.sim.url}/files`);
    expect(res.status).toBe(401);
    const body = (await res.json()) as { error: { message: string; type: string } };
    expect(check(wire.error, body, '401')).toEqual([]);
    expect(body.error.message).toMatch(/^You didn't provide an API key/);
    const unknown = await fetch(`${t.sim.url}/nothing-here`, { headers: { authorization: 'Bearer sk-x' } });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toBe('Invalid URL (GET /v1/nothing-here)');
  });

  it('streams a large upload to disk and back', async () => {
    const t = await startTestSimulator();
    const line = JSON.stringify(chatLines(1)[0]);
    const n = Math.ceil((20 * 1024 * 1024) / (line.length + 1));
    const text = `${line}\n`.repeat(n);
    const f = await uploadBatchFile(t.client, text, 'big.jsonl');
    expect(f.bytes).toBe(Buffer.byteLength(text));
    const back = Buffer.from(await (await t.client.files.content(f.id)).arrayBuffer());
    expect(back.length).toBe(f.bytes);
    expect(back.subarray(0, line.length).toString()).toBe(line);
  });
});

describe('the file store on disk', () => {
  it('an aborted blob leaves no file behind, even when its file is still being opened', async () => {
    const store = await FileStore.create();
    for (let i = 0; i < 100; i++) {
      const blob = store.openBlob();
      await blob.write('x'.repeat(1_000));
      await blob.abort();
    }
    expect(await readdir(store.dir)).toEqual([]);
    await store.close();
  });
});
