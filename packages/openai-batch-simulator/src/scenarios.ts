/**
 * Scenarios: every knob of the simulator (timing, limits, fault rates, webhooks) in one
 * zod-validated object. A scenario is named (`happy`, `flaky`, `hostile`, `token-limit`,
 * `realistic`, `instant`, shipped as JSON in ../scenarios) or read from a JSON file, which may `extends` a
 * named one. Defaults are the `happy` behaviour; the package README explains each knob and its source.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

const rate = z.number().min(0).max(1);
const seconds = z.number().min(0);

const TimingSchema = z.strictObject({
  /** Simulated seconds a batch stays `validating` (real sample: 57 s, reference §2). @defaultValue 60 */
  validationSeconds: seconds.default(60),
  /**
   * Simulated seconds of processing per request. ASSUMED 2 (the one real sample ran ~3 s per
   * request): a batch of more than 43,200 requests does not finish inside the 24 h window and
   * expires, even in `happy`. @defaultValue 2
   */
  secondsPerRequest: seconds.default(2),
  /** Lower bound of the `in_progress` phase, whatever the size. @defaultValue 300 */
  minProcessingSeconds: seconds.default(300),
  /** Simulated seconds in `finalizing` (real sample: ~18 min). @defaultValue 300 */
  finalizingSeconds: seconds.default(300),
  /** Simulated seconds in `cancelling` ("up to 10 minutes"). @defaultValue 120 */
  cancellingSeconds: seconds.default(120),
});

const LimitsSchema = z.strictObject({
  /** Requests per batch (OpenAI: 50,000). @defaultValue 50000 */
  maxRequestsPerBatch: z.number().int().positive().default(50_000),
  /** Batch input file size (OpenAI: 200 MB). @defaultValue 209715200 */
  maxInputFileBytes: z.number().int().positive().default(209_715_200),
  /** Size of any uploaded file (OpenAI: 512 MB). @defaultValue 536870912 */
  maxUploadBytes: z.number().int().positive().default(536_870_912),
  /** Embedding inputs across all requests of a batch (OpenAI: 50,000). @defaultValue 50000 */
  maxEmbeddingInputsPerBatch: z.number().int().positive().default(50_000),
  /** Enqueued input-token limit for models not listed in `enqueuedTokens`. @defaultValue 5000000 */
  defaultEnqueuedTokens: z.number().int().positive().default(5_000_000),
  /** Per-model enqueued-token limits; a key matches the model or a dated snapshot of it. @defaultValue {} */
  enqueuedTokens: z.record(z.string(), z.number().int().positive()).default({}),
});

const LineFaultsSchema = z
  .strictObject({
    /** 400 `invalid_request_error` lines (context_length_exceeded / invalid_prompt); permanent for a given body. */
    http400: rate.default(0),
    /** 500 `server_error` lines. */
    http500: rate.default(0),
    /** Content that is not valid JSON although JSON was asked for (json_schema / json_object only). */
    invalidJson: rate.default(0),
    /** Valid JSON that breaks the requested json_schema (json_schema only). */
    schemaViolation: rate.default(0),
    /** `finish_reason: "length"` with truncated content (chat only). */
    truncated: rate.default(0),
    /** `message.refusal` set, `content: null` (chat only). */
    refusal: rate.default(0),
    /** `finish_reason: "content_filter"`, `content: null` (chat only). */
    contentFilter: rate.default(0),
  })
  .refine((f) => Object.values(f).reduce((a, b) => a + b, 0) <= 1, {
    message: 'the line fault rates must add up to at most 1',
  });

const HttpFaultsSchema = z
  .strictObject({
    /** Share of API requests answered 429 with `retry-after` / `retry-after-ms`. */
    rate429: rate.default(0),
    /** Share answered 500 `server_error`. */
    rate500: rate.default(0),
    /** Share answered 503 (overloaded). */
    rate503: rate.default(0),
    /** Value of `retry-after` on 429s, seconds. @defaultValue 1 */
    retryAfterSeconds: z.number().int().min(0).default(1),
    /** Share of requests delayed by `slowMs` real milliseconds before being answered. */
    slowRate: rate.default(0),
    /** @defaultValue 2000 */
    slowMs: z.number().int().min(0).default(2000),
    /** Share of `POST /files` and `POST /batches` that create the object and then lose the response. */
    lostCreateRate: rate.default(0),
    /** How a lost create response looks: a 500 or a reset connection. @defaultValue "reset" */
    lostCreateMode: z.enum(['reset', '500']).default('reset'),
  })
  .refine((f) => f.rate429 + f.rate500 + f.rate503 <= 1, { message: 'rate429 + rate500 + rate503 must be at most 1' });

const WindowFaultSchema = z.strictObject({ rate: rate.default(0), seconds: seconds.default(30) });

const ConsistencySchema = z.strictObject({
  /** A file answers 404 for `seconds` (simulated) after its upload. */
  fileNotFoundAfterUpload: WindowFaultSchema.prefault({}),
  /** A batch answers 404 (retrieve, cancel) for `seconds` (simulated) after its creation. */
  batchNotFoundAfterCreate: WindowFaultSchema.prefault({}),
});

const OutputFaultsSchema = z.strictObject({
  /**
   * NOT SEEN FROM OPENAI (a client's defence, not a documented behaviour): the share of successful
   * result lines whose `custom_id` appears a second time, as a `server_error` line at the end of the
   * output file. A client should keep the first line of each `custom_id`.
   */
  repeatedLine: rate.default(0),
});

const BatchFaultsSchema = z.strictObject({
  /** Batches that stay `validating` for `seconds` more. */
  stuckValidating: z.strictObject({ rate: rate.default(0), seconds: seconds.default(3600) }).prefault({}),
  /** Batches that stay `finalizing` for `seconds` more. */
  stuckFinalizing: z.strictObject({ rate: rate.default(0), seconds: seconds.default(3600) }).prefault({}),
  /** Batches too slow for the 24 h window: they expire with `completedFraction` of the requests done. */
  expire: z.strictObject({ rate: rate.default(0), completedFraction: rate.default(0.5) }).prefault({}),
  /** Whether an expiring batch shows `finalizing` (for `finalizingSeconds`) before `expired`. @defaultValue false */
  expireViaFinalizing: z.boolean().default(false),
});

const CancelSchema = z.strictObject({
  /** ASSUMED: write requests that never ran to the error file (OpenAI does not document it). @defaultValue true */
  unrunRequestsInErrorFile: z.boolean().default(true),
  /** ASSUMED code of such a line. @defaultValue "batch_cancelled" */
  unrunCode: z.string().min(1).default('batch_cancelled'),
  /** ASSUMED message of such a line (modelled on the real `batch_expired` one). */
  unrunMessage: z.string().min(1).default('This request could not be executed because the batch was cancelled.'),
});

const UsageSchema = z.strictObject({
  /**
   * A flat share of prompt tokens reported as `cached_tokens` on every request, instead of the
   * prompt-caching rules. @defaultValue 0 (use the rules)
   */
  cachedPromptFraction: rate.default(0),
  /** Apply OpenAI's prompt-caching rules (repeated prefixes of ≥ 1,024 tokens). @defaultValue true */
  promptCaching: z.boolean().default(true),
  /** ASSUMED simulated seconds a cached prefix stays warm without use (OpenAI: "5 to 10 minutes", up to 1 h). @defaultValue 600 */
  cacheTtlSeconds: seconds.default(600),
  /** Share of a reasoning model's output tokens that are reasoning (real gpt-5 batch: 93 %). @defaultValue 0.9 */
  reasoningShare: z.number().min(0).max(0.99).default(0.9),
  /**
   * ASSUMED batch `usage` before the batch ends (undocumented): `null`; `zeros` (the object with
   * zero counts); `partial` (input tokens of the requests done so far, output 0). @defaultValue "zeros"
   */
  whileRunning: z.enum(['null', 'zeros', 'partial']).default('zeros'),
});

const TokensSchema = z.strictObject({
  /**
   * Real usage = the simulator's reference count × (1 + drift), for input tokens and the
   * enqueued-token limit alike; e.g. 0.05 makes every request 5 % bigger than a correct estimate.
   * @defaultValue 0
   */
  drift: z.number().min(-0.9).max(10).default(0),
  /** ASSUMED size of an image given by remote URL (never fetched). @defaultValue 1024×1024 */
  remoteImageSize: z.strictObject({ width: z.number().int().positive(), height: z.number().int().positive() }).default({ width: 1024, height: 1024 }),
});

const ValidationCodesSchema = z.strictObject({
  /** ASSUMED codes of input-file failures: OpenAI publishes none; the defaults are Azure OpenAI's names (reference §3.3). */
  invalidJsonLine: z.string().default('invalid_json_line'),
  invalidLine: z.string().default('invalid_request'),
  missingParameter: z.string().default('missing_required_parameter'),
  duplicateCustomId: z.string().default('duplicate_custom_id'),
  urlMismatch: z.string().default('url_mismatch'),
  modelMismatch: z.string().default('model_mismatch'),
  tooManyRequests: z.string().default('too_many_tasks'),
  emptyFile: z.string().default('empty_file'),
  /** The message is real; the code is not published. */
  fileTooLarge: z.string().default('invalid_request'),
});

const WebhookSchema = z.strictObject({
  /** Where events are POSTed; no URL = no webhooks. */
  url: z.string().url().optional(),
  /** Signing secret, `whsec_` + base64. */
  secret: z.string().min(1).optional(),
  /** Share of events delivered twice (same `webhook-id`). */
  duplicateRate: rate.default(0),
  /** Delivery attempts before giving up (OpenAI retries for up to 72 h). @defaultValue 8 */
  maxAttempts: z.number().int().min(1).default(8),
  /** Simulated seconds before the first retry; doubles each attempt (capped at 72 h in total). @defaultValue 60 */
  retryBaseSeconds: seconds.default(60),
  /** Real milliseconds to wait for the receiver. @defaultValue 5000 */
  timeoutMs: z.number().int().positive().default(5000),
});

/** The zod schema of a scenario (input: every field optional). */
export const ScenarioSchema = z.strictObject({
  /** Shown in stats and logs. @defaultValue "custom" */
  name: z.string().min(1).default('custom'),
  description: z.string().optional(),
  /** Seed of every deterministic decision. @defaultValue 1 */
  seed: z.number().int().default(1),
  /** Simulated seconds per real second (0 = frozen, advance by hand). @defaultValue 1000 */
  timeScale: z.number().min(0).default(1000),
  timing: TimingSchema.prefault({}),
  limits: LimitsSchema.prefault({}),
  lineFaults: LineFaultsSchema.prefault({}),
  httpFaults: HttpFaultsSchema.prefault({}),
  consistency: ConsistencySchema.prefault({}),
  outputFaults: OutputFaultsSchema.prefault({}),
  batchFaults: BatchFaultsSchema.prefault({}),
  cancel: CancelSchema.prefault({}),
  usage: UsageSchema.prefault({}),
  tokens: TokensSchema.prefault({}),
  validation: z.strictObject({ codes: ValidationCodesSchema.prefault({}) }).prefault({}),
  /**
   * `full` (default) executes every request with its own content and exact token counts;
   * `instant` answers with content precomputed per response format and counts ~4 characters per
   * token (see the `instant` scenario).
   */
  execution: z.enum(['full', 'instant']).default('full'),
  /** API keys grouped by project: every key of a project sees its files and batches (ids.ts). @defaultValue {} */
  projects: z.record(z.string(), z.array(z.string().min(1))).default({}),
  webhook: WebhookSchema.prefault({}),
});

/** A fully resolved scenario (every default filled in). */
export type Scenario = z.output<typeof ScenarioSchema>;
/** What a scenario file may contain: any subset of {@link Scenario}, plus `extends`. */
export type ScenarioInput = z.input<typeof ScenarioSchema> & { extends?: string };
/** The per-line fault names. */
export type LineFaultName = keyof Scenario['lineFaults'];

/** Names of the scenarios shipped with the simulator. */
export const NAMED_SCENARIOS = ['happy', 'flaky', 'hostile', 'token-limit', 'realistic', 'instant'] as const;

/** Raised when a scenario cannot be found or does not validate; the message names the bad field. */
export class ScenarioError extends Error {
  constructor(message: string) {
    super(message);
    this.name = this.constructor.name;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

function readJson(path: string, label: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ScenarioError(`Cannot read scenario ${label}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ScenarioError(`Scenario ${label} is not valid JSON: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ScenarioError(`Scenario ${label} must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

function namedPath(name: string): string {
  return fileURLToPath(new URL(`../scenarios/${name}.json`, import.meta.url));
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)
        ? deepMerge(b as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

function resolveRaw(raw: Record<string, unknown>, label: string, seen: Set<string>): Record<string, unknown> {
  const { extends: parent, ...rest } = raw;
  if (parent === undefined) return rest;
  if (typeof parent !== 'string') throw new ScenarioError(`Invalid scenario ${label}: extends: expected a scenario name or path`);
  if (seen.has(parent)) throw new ScenarioError(`Invalid scenario ${label}: extends: cycle through "${parent}"`);
  seen.add(parent);
  const base = loadRaw(parent, seen);
  return deepMerge(base, rest);
}

function loadRaw(nameOrPath: string, seen: Set<string>): Record<string, unknown> {
  if ((NAMED_SCENARIOS as readonly string[]).includes(nameOrPath)) {
    return resolveRaw(readJson(namedPath(nameOrPath), `"${nameOrPath}"`), `"${nameOrPath}"`, seen);
  }
  if (!existsSync(nameOrPath)) {
    throw new ScenarioError(
      `Unknown scenario "${nameOrPath}": not a named scenario (${NAMED_SCENARIOS.join(', ')}) and no such file`,
    );
  }
  return resolveRaw(readJson(nameOrPath, `file ${nameOrPath}`), `file ${nameOrPath}`, seen);
}

function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}

/**
 * Load a scenario by name (`happy`, `flaky`, `hostile`, `token-limit`, `realistic`, `instant`), from a JSON
 * file path, or from an object. Throws {@link ScenarioError} naming the bad field.
 */
export function loadScenario(nameOrPath: string | Scenario | ScenarioInput = 'happy'): Scenario {
  const label = typeof nameOrPath === 'string' ? `"${nameOrPath}"` : 'object';
  const raw =
    typeof nameOrPath === 'string'
      ? loadRaw(nameOrPath, new Set([nameOrPath]))
      : resolveRaw(nameOrPath as Record<string, unknown>, label, new Set());
  const parsed = ScenarioSchema.safeParse(raw);
  if (!parsed.success) throw new ScenarioError(`Invalid scenario ${label}: ${formatIssues(parsed.error)}`);
  return parsed.data;
}
