import { describe, expect, it } from 'vitest';
import {
  REDACTED,
  batchLogger,
  captureLogs,
  createLogger,
  errorSerializer,
  itemLogger,
  redactValue,
  scrubSecrets,
  wantsPretty,
} from '../../src/logging/index.ts';

const KEY = 'sk-test-FAKEKEY1234567890abcdef';
const PROMPT = 'SECRET PROMPT TEXT';
const WEBHOOK_SECRET = 'whsec_c2VjcmV0LXNpZ25pbmcta2V5';

/** A log object with secrets and bodies in every plausible place. */
function leakyObject(): Record<string, unknown> {
  return {
    apiKey: KEY,
    OPENAI_API_KEY: KEY,
    config: { openaiApiKey: KEY, webhookSecret: WEBHOOK_SECRET, databaseUrl: 'postgres://fleet:hunter2pass@db:5432/fleet' },
    headers: { authorization: `Bearer ${KEY}`, 'x-api-key': KEY, 'content-type': 'application/json' },
    request: { headers: { Authorization: `Bearer ${KEY}` }, body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: PROMPT }] } },
    response: { status_code: 200, body: { choices: [{ message: { role: 'assistant', content: PROMPT } }] } },
    messages: [{ role: 'system', content: PROMPT }],
    input: PROMPT,
    output: { text: PROMPT },
    prompt: PROMPT,
    job: { data: { item: { input: { text: PROMPT }, output: PROMPT, nested: { deeper: { apiKey: KEY } } } } },
    line: { custom_id: 'item-1', response: { status_code: 200, body: { output: [{ content: [{ text: PROMPT }] }] } } },
    tokens: { prompt_tokens: 12, completion_tokens: 3 },
    url: `https://api.example.test/v1?api_key=${KEY.slice(3)}&x=1`,
  };
}

function expectClean(text: string, { bodies }: { bodies: boolean }): void {
  expect(text).not.toContain(KEY);
  expect(text).not.toContain('FAKEKEY1234567890');
  expect(text).not.toContain(WEBHOOK_SECRET);
  expect(text).not.toContain('hunter2pass');
  if (bodies) expect(text).not.toContain(PROMPT);
}

describe('createLogger redaction (default)', () => {
  it('logs no key, authorization header or prompt text anywhere', () => {
    const cap = captureLogs();
    const log = createLogger({ destination: cap.stream });
    const obj = leakyObject();
    const before = JSON.stringify(obj);
    log.info(obj, 'submitting batch');
    log.warn({ attempt: { request: obj } }, 'retrying');
    log.info(`using key ${KEY} with header Authorization: Bearer ${KEY}`);
    batchLogger(log, 'b-1').info({ body: PROMPT }, 'line');

    expectClean(cap.text(), { bodies: true });
    expect(JSON.stringify(obj)).toBe(before); // the caller's object is not mutated

    const [first, , third] = cap.records();
    expect(first).toMatchObject({
      level: 30,
      service: 'batchfleet',
      pid: process.pid,
      msg: 'submitting batch',
      apiKey: REDACTED,
      OPENAI_API_KEY: REDACTED,
      config: { openaiApiKey: REDACTED, webhookSecret: REDACTED },
      headers: { authorization: REDACTED, 'x-api-key': REDACTED, 'content-type': 'application/json' },
      request: { headers: { Authorization: REDACTED }, body: REDACTED },
      response: { status_code: 200, body: REDACTED },
      messages: REDACTED,
      input: REDACTED,
      output: REDACTED,
      prompt: REDACTED,
      job: { data: { item: { input: REDACTED, output: REDACTED, nested: { deeper: { apiKey: REDACTED } } } } },
      line: { custom_id: 'item-1', response: { status_code: 200, body: REDACTED } },
      tokens: { prompt_tokens: 12, completion_tokens: 3 },
    });
    expect(String((first!.config as Record<string, unknown>).databaseUrl)).toBe('postgres://fleet:[redacted]@db:5432/fleet');
    expect(third!.msg).toBe(`using key ${REDACTED} with header Authorization: Bearer ${REDACTED}`);
  });

  it('scrubs keys out of error messages and stacks, and redacts error bodies', () => {
    const cap = captureLogs();
    const log = createLogger({ destination: cap.stream });
    const err = Object.assign(new Error(`401 Incorrect API key provided: ${KEY}. Request headers: {"Authorization":"Bearer ${KEY}"}`), {
      status: 401,
      headers: { authorization: `Bearer ${KEY}` },
      response: { body: PROMPT },
      request: { body: { messages: [{ content: PROMPT }] } },
      cause: new Error(`socket hang up while sending Authorization: Bearer ${KEY}`),
    });
    log.error({ err }, 'submit failed');
    log.error(err);
    log.error({ error: err }, 'as error');
    itemLogger(log, 'i-1').warn({ failure: { reason: err } }, 'nested error');

    expectClean(cap.text(), { bodies: true });
    const [rec] = cap.records();
    const e = rec!.err as Record<string, unknown>;
    expect(e.type).toBe('Error');
    expect(e.message).toBe(`401 Incorrect API key provided: ${REDACTED}. Request headers: {"Authorization":"Bearer ${REDACTED}"}`);
    expect(String(e.stack)).toContain('401 Incorrect API key provided: [redacted]');
    expect(e.status).toBe(401);
    expect(e.headers).toEqual({ authorization: REDACTED });
    expect(e.response).toBe(REDACTED);
    expect(e.request).toBe(REDACTED);
    expect((e.cause as Record<string, unknown>).message).toBe(`socket hang up while sending Authorization: Bearer ${REDACTED}`);
  });

  it('redacts secrets given to child loggers as bindings', () => {
    const cap = captureLogs();
    createLogger({ destination: cap.stream }).child({ apiKey: KEY, prompt: PROMPT }).info('x');
    expectClean(cap.text(), { bodies: true });
  });

  it('survives circular and exotic values', () => {
    const cap = captureLogs();
    const a: Record<string, unknown> = { apiKey: KEY, when: new Date(0), buf: Buffer.from('hi'), big: { n: 1 } };
    a.self = a;
    createLogger({ destination: cap.stream }).info({ a }, 'circular');
    expectClean(cap.text(), { bodies: true });
    expect(cap.records()[0]!.a).toMatchObject({ apiKey: REDACTED, when: '1970-01-01T00:00:00.000Z', self: '[Circular]' });
  });
});

describe('createLogger with showBodies', () => {
  it('shows prompt text but never keys or authorization', () => {
    const cap = captureLogs();
    const log = createLogger({ destination: cap.stream, showBodies: true });
    log.info(leakyObject(), 'submitting batch');
    const err = Object.assign(new Error(`bad key ${KEY}`), { response: { body: PROMPT }, headers: { authorization: `Bearer ${KEY}` } });
    log.error({ err }, 'failed');

    const text = cap.text();
    expect(text).toContain(PROMPT);
    expectClean(text, { bodies: false });
    const [rec, errRec] = cap.records();
    expect(rec).toMatchObject({
      apiKey: REDACTED,
      headers: { authorization: REDACTED, 'x-api-key': REDACTED },
      request: { headers: { Authorization: REDACTED }, body: { messages: [{ role: 'user', content: PROMPT }] } },
      input: PROMPT,
    });
    expect(errRec!.err).toMatchObject({ message: `bad key ${REDACTED}`, response: { body: PROMPT }, headers: { authorization: REDACTED } });
  });
});

describe('child loggers', () => {
  it('carry batchId and itemId', () => {
    const cap = captureLogs();
    const log = createLogger({ destination: cap.stream, name: 'batchfleet-worker' });
    const b = batchLogger(log, 'batch-123');
    b.info('polled');
    itemLogger(b, 'item-456').info({ verdict: 'succeeded' }, 'item done');
    itemLogger(log, 'item-789').info('alone');
    const [r1, r2, r3] = cap.records();
    expect(r1).toMatchObject({ service: 'batchfleet-worker', batchId: 'batch-123', msg: 'polled' });
    expect(r1).not.toHaveProperty('itemId');
    expect(r2).toMatchObject({ batchId: 'batch-123', itemId: 'item-456', verdict: 'succeeded' });
    expect(r3).toMatchObject({ itemId: 'item-789' });
    expect(r3).not.toHaveProperty('batchId');
  });
});

describe('levels and formats', () => {
  it('respects the level', () => {
    const cap = captureLogs();
    const log = createLogger({ destination: cap.stream, level: 'warn' });
    log.info('hidden');
    log.warn('shown');
    expect(cap.lines()).toHaveLength(1);
    expect(cap.records()[0]).toMatchObject({ level: 40, msg: 'shown' });
    expect(typeof cap.records()[0]!.time).toBe('string');
  });

  it('pretty output is human-readable and redacted too', () => {
    const cap = captureLogs();
    const log = createLogger({ destination: cap.stream, pretty: true });
    log.error({ err: new Error(`boom ${KEY}`), messages: [PROMPT], batchId: 'b-9' }, `failed with ${KEY}`);
    const text = cap.text();
    expectClean(text, { bodies: true });
    expect(text).toMatch(/ERROR.*failed with \[redacted\]/);
    expect(text).toContain('batchId: "b-9"');
    expect(() => JSON.parse(cap.lines()[0]!)).toThrow();
  });

  it("'auto' is pretty only on a TTY", () => {
    expect(wantsPretty('auto', true)).toBe(true);
    expect(wantsPretty('auto', false)).toBe(false);
    expect(wantsPretty(true, false)).toBe(true);
    expect(wantsPretty(false, true)).toBe(false);
    expect(wantsPretty(undefined, true)).toBe(false);
  });

  it('captureLogs().clear() forgets earlier output', () => {
    const cap = captureLogs();
    const log = createLogger({ destination: cap.stream });
    log.info('one');
    cap.clear();
    log.info('two');
    expect(cap.records().map((r) => r.msg)).toEqual(['two']);
  });
});

describe('redaction helpers', () => {
  it('scrubSecrets handles the usual shapes and leaves ordinary text alone', () => {
    expect(scrubSecrets(`Authorization: Bearer ${KEY}`)).toBe('Authorization: Bearer [redacted]');
    expect(scrubSecrets('Authorization: Basic dXNlcjpwYXNzd29yZDE=')).toBe('Authorization: Basic [redacted]');
    expect(scrubSecrets(`key=${KEY};`)).toBe('key=[redacted];');
    expect(scrubSecrets('sk-proj-AbCdEfGhIjKlMnOpQrStUvWx_yz-0123')).toBe('[redacted]');
    expect(scrubSecrets(`{"msg":"line1\\n${KEY}"}`)).toBe('{"msg":"line1\\n[redacted]"}');
    expect(scrubSecrets('redis://:s3cr3t@redis:6379/0')).toBe('redis://:[redacted]@redis:6379/0');
    for (const ordinary of ['task-0000000000000000001', 'Basic information about the bearer of this note', 'risk-assessment-framework-document', 'mail me at ops@example.test']) {
      expect(scrubSecrets(ordinary)).toBe(ordinary);
    }
  });

  it('keeps every line valid JSON and key-free for messy strings (deterministic fuzz)', () => {
    const parts = ['\n', '\\', '"', 'Bearer ', 'Basic ', KEY, `${WEBHOOK_SECRET} `, 'https://u:p4ss@h/x?api_key=zz9&', '\u2028', '\t', 'é', ' ', 'x ', ':', '=', '{', '}', "'", '\r', '/'];
    const cap = captureLogs();
    const log = createLogger({ destination: cap.stream });
    let seed = 7;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    for (let i = 0; i < 3000; i++) {
      let s = '';
      for (let j = 0; j < 10; j++) s += parts[Math.floor(rnd() * parts.length)];
      log.info({ note: s, e: new Error(s) }, s);
    }
    const lines = cap.lines();
    expect(lines).toHaveLength(3000);
    for (const line of lines) {
      expect(() => JSON.parse(line)).not.toThrow();
      for (const secret of ['FAKEKEY', 'p4ss', 'zz9', WEBHOOK_SECRET.slice(6)]) expect(line).not.toContain(secret);
    }
  });

  it('redactValue copies only what it changes', () => {
    const shared = { a: 1 };
    const value = { shared, nested: { apiKey: KEY }, list: [shared, { password: 'x' }] };
    const out = redactValue(value);
    expect(out).not.toBe(value);
    expect(out.shared).toBe(shared);
    expect(out.nested).toEqual({ apiKey: REDACTED });
    expect(out.list[0]).toBe(shared);
    expect(out.list[1]).toEqual({ password: REDACTED });
    expect(value.nested.apiKey).toBe(KEY);
    const clean = { a: { b: [1, 2] } };
    expect(redactValue(clean)).toBe(clean);
  });

  it('errorSerializer works on its own', () => {
    const out = errorSerializer(new Error(`x ${KEY}`)) as Record<string, unknown>;
    expect(out.message).toBe('x [redacted]');
    expect(JSON.stringify(out)).not.toContain(KEY);
  });
});
