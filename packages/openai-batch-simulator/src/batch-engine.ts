/**
 * The batch status machine (reference §2):
 *
 *   validating ──▶ in_progress ──▶ finalizing ──▶ completed
 *       │               │  └──(24 h window passes)──▶ expired   (optionally via finalizing)
 *       ▼               ▼
 *     failed        cancelling ──▶ cancelled
 *
 * Why it is built this way:
 * - A batch's whole future is PLANNED when it is created (validation end) and when it starts
 *   running (finalizing and completion times, how many requests are done at any instant), as a
 *   pure function of simulated time. Reading a batch evaluates that plan lazily at the current
 *   simulated time, so `request_counts` grow smoothly and an idle simulator does no work.
 * - One clock timer per unfinished batch fires at its next transition, so transitions (and
 *   webhooks) also happen when nobody is polling; tests advance the clock instead of sleeping.
 * - The input file is validated in the background right at create (real time), because its
 *   result is only revealed at the planned simulated validation end. The same pass counts tokens
 *   and draws each line's fault, so `request_counts` are known while in progress.
 * - Result files are written when the batch reaches its end (completed, expired, cancelled) by
 *   reading the input again and executing the lines that ran (instant execution keeps what
 *   validation parsed instead, see KEEP_LINES_MAX_BYTES); the status only flips once the files
 *   exist, so a terminal batch always has its files. Until then it shows its previous status.
 * - Enqueued input tokens count against a per-model limit from the moment a batch starts running
 *   until it ends (any terminal status), checked when validation ends, like the real queue limit.
 */
import type { SimClock } from './clock.ts';
import { ApiError, SERVER_ERROR_MESSAGE } from './errors.ts';
import { FileStore, DEFAULT_BATCH_FILE_TTL_SECONDS, type FileRecord, type BlobWriter } from './file-store.ts';
import { fileLines } from './file-lines.ts';
import { decideBatchFaults, decideLineFault, type BatchFaults } from './faults.ts';
import { newBatchId } from './ids.ts';
import { executeRequest, LINE_FAULTS } from './line-executor.ts';
import { resolveSnapshot } from './models.ts';
import type { PromptCache } from './prompt-cache.ts';
import { roll, wideDigestOf } from './random.ts';
import type { Scenario } from './scenarios.ts';
import type { StatsTracker } from './stats.ts';
import type { TokenCounter } from './token-counter.ts';
import { validateInputFile, type BatchError, type InvalidInput, type ValidInput } from './validation.ts';
import type { BatchEventType } from './webhooks.ts';

/**
 * Largest input file whose parsed requests validation keeps for the run (instant execution only),
 * so a run does not read and parse the file a second time. Larger files are read again.
 */
export const KEEP_LINES_MAX_BYTES = 64 * 1024 * 1024;

/** Every batch status. */
export type BatchStatus =
  | 'validating'
  | 'failed'
  | 'in_progress'
  | 'finalizing'
  | 'completed'
  | 'expired'
  | 'cancelling'
  | 'cancelled';

const TERMINAL: ReadonlySet<BatchStatus> = new Set(['failed', 'completed', 'expired', 'cancelled']);

/** The completion window, seconds (`24h`, the only value the API accepts). */
export const COMPLETION_WINDOW_SECONDS = 86_400;

/** Real message of an expired request line (reference §1.7). */
export const BATCH_EXPIRED_MESSAGE = 'This request could not be executed before the completion window expired.';

/** Batch `usage` as OpenAI returns it (including the legacy zero fields seen in litellm#14884). */
export interface WireUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
  prompt_tokens: number;
  completion_tokens: number;
  prompt_tokens_details: null;
  completion_tokens_details: null;
}

/** The wire Batch object. */
export interface WireBatch {
  id: string;
  object: 'batch';
  endpoint: string;
  model: string | null;
  errors: { object: 'list'; data: BatchError[] } | null;
  input_file_id: string;
  completion_window: string;
  status: BatchStatus;
  output_file_id: string | null;
  error_file_id: string | null;
  created_at: number;
  in_progress_at: number | null;
  expires_at: number | null;
  finalizing_at: number | null;
  completed_at: number | null;
  failed_at: number | null;
  expired_at: number | null;
  cancelling_at: number | null;
  cancelled_at: number | null;
  request_counts: { total: number; completed: number; failed: number };
  usage: WireUsage | null;
  metadata: Record<string, string> | null;
}

interface Times {
  inProgress: number | null;
  finalizing: number | null;
  completed: number | null;
  failed: number | null;
  expired: number | null;
  cancelling: number | null;
  cancelled: number | null;
}

interface BatchRecord {
  id: string;
  seq: number;
  clientId: string;
  organization: string;
  endpoint: string;
  inputFile: FileRecord;
  metadata: Record<string, string> | null;
  outputExpiresAfterSeconds: number | null;
  /** Simulated creation time (durations are measured from it). */
  createdAtMs: number;
  /** Wall-clock `created_at`, unix seconds. */
  createdAt: number;
  expiresAtMs: number;
  validateUntilMs: number;
  hiddenUntilMs: number;
  faults: BatchFaults;
  status: BatchStatus;
  model: string | null;
  errors: BatchError[] | null;
  outputFileId: string | null;
  errorFileId: string | null;
  times: Times;
  /** Result of the background validation; null while it runs. */
  input: ValidInput | InvalidInput | null;
  occurrences: number[];
  processingMs: number;
  plannedFinalizingAtMs: number;
  plannedCompleteAtMs: number;
  /** Requests done when processing stopped early (cancel, expiry); null while it runs. */
  frozenDone: number | null;
  expiring: boolean;
  cancelDoneAtMs: number | null;
  /** A terminal transition whose files are being written. */
  pending: { status: 'completed' | 'expired' | 'cancelled'; atMs: number; done: number } | null;
  finalCounts: { total: number; completed: number; failed: number } | null;
  usage: WireUsage | null;
  enqueued: { model: string; tokens: number } | null;
  cancelTimer: (() => void) | null;
  timerAt: number | null;
  inputRetained: boolean;
}

/** Dependencies of the engine. */
export interface BatchEngineDeps {
  scenario: Scenario;
  clock: SimClock;
  files: FileStore;
  stats: StatsTracker;
  counter: TokenCounter;
  /** Prompt caching across the organization's requests; null = off. */
  promptCache: PromptCache | null;
  tokenLimits: Record<string, number>;
  logger: { info(...a: unknown[]): void; warn(...a: unknown[]): void };
  onTerminal?: (type: BatchEventType, batchId: string, atSeconds: number) => void;
}


/** Owns every batch and moves each along its planned timeline. */
export class BatchEngine {
  private readonly batches = new Map<string, BatchRecord>();
  private seq = 0;
  private readonly stepping = new Set<string>();
  private readonly work = new Set<Promise<unknown>>();
  private closed = false;

  constructor(private readonly deps: BatchEngineDeps) {}

  /** The wall-clock unix seconds of a simulated instant (what every `*_at` field shows). */
  private sec(simMs: number | null): number | null {
    return simMs === null ? null : Math.floor(this.deps.clock.wallAt(simMs) / 1000);
  }

  private get scenario(): Scenario {
    return this.deps.scenario;
  }

  /** Create a batch (status `validating`) and start validating its input in the background. */
  create(input: {
    clientId: string;
    organization: string;
    endpoint: string;
    inputFile: FileRecord;
    metadata: Record<string, string> | null;
    outputExpiresAfterSeconds: number | null;
  }): WireBatch {
    const now = this.deps.clock.now();
    const n = this.seq++;
    const faults = decideBatchFaults(this.scenario, n);
    const createdAtMs = Math.floor(now / 1000) * 1000;
    const rec: BatchRecord = {
      id: newBatchId(),
      seq: n,
      clientId: input.clientId,
      organization: input.organization,
      endpoint: input.endpoint,
      inputFile: input.inputFile,
      metadata: input.metadata,
      outputExpiresAfterSeconds: input.outputExpiresAfterSeconds,
      createdAtMs,
      createdAt: this.deps.clock.wallSeconds(),
      expiresAtMs: createdAtMs + COMPLETION_WINDOW_SECONDS * 1000,
      validateUntilMs: now + (this.scenario.timing.validationSeconds + faults.extraValidatingSeconds) * 1000,
      hiddenUntilMs: now + faults.hiddenForSeconds * 1000,
      faults,
      status: 'validating',
      model: null,
      errors: null,
      outputFileId: null,
      errorFileId: null,
      times: { inProgress: null, finalizing: null, completed: null, failed: null, expired: null, cancelling: null, cancelled: null },
      input: null,
      occurrences: [],
      processingMs: 0,
      plannedFinalizingAtMs: Infinity,
      plannedCompleteAtMs: Infinity,
      frozenDone: null,
      expiring: false,
      cancelDoneAtMs: null,
      pending: null,
      finalCounts: null,
      usage: null,
      enqueued: null,
      cancelTimer: null,
      timerAt: null,
      inputRetained: true,
    };
    this.deps.files.retain(input.inputFile);
    this.batches.set(rec.id, rec);
    this.deps.stats.batchCreated(rec.clientId, rec.id, input.inputFile.id, input.metadata);
    for (const [name, on] of [
      ['batch_not_found_after_create', faults.hiddenForSeconds > 0],
      ['stuck_validating', faults.extraValidatingSeconds > 0],
      ['stuck_finalizing', faults.extraFinalizingSeconds > 0],
      ['batch_expires', faults.expireWithFraction !== null],
    ] as const) {
      if (on) this.deps.stats.fault(rec.clientId, name);
    }
    this.track(this.validate(rec));
    this.schedule(rec);
    return this.toWire(rec);
  }

  /** A batch of this client, evaluated at the current simulated time (hidden ones included). */
  get(clientId: string, id: string): { batch: WireBatch; hidden: boolean } | undefined {
    const rec = this.batches.get(id);
    if (!rec || rec.clientId !== clientId) return undefined;
    this.refresh(rec);
    return { batch: this.toWire(rec), hidden: rec.hiddenUntilMs > this.deps.clock.now() };
  }

  /** A client's batches, newest first. */
  list(clientId: string): WireBatch[] {
    const out: BatchRecord[] = [];
    for (const rec of this.batches.values()) {
      if (rec.clientId !== clientId) continue;
      this.refresh(rec);
      out.push(rec);
    }
    out.sort((a, b) => b.createdAtMs - a.createdAtMs || b.seq - a.seq);
    return out.map((r) => this.toWire(r));
  }

  /**
   * Cancel. From validating/in_progress/finalizing the batch goes `cancelling` and, after
   * `cancellingSeconds`, `cancelled` with the requests done so far in its output file. Cancelling
   * a `cancelling` batch (or one whose end is being written) returns it unchanged; a terminal
   * batch answers 400 (UNVERIFIED on OpenAI; documented choice).
   */
  cancel(clientId: string, id: string): WireBatch | undefined {
    const rec = this.batches.get(id);
    if (!rec || rec.clientId !== clientId) return undefined;
    this.refresh(rec);
    if (TERMINAL.has(rec.status)) {
      throw new ApiError(400, `Cannot cancel a batch with status '${rec.status}'.`, 'invalid_request_error', null, null);
    }
    if (rec.status === 'cancelling' || rec.pending || rec.expiring) return this.toWire(rec);
    const now = this.deps.clock.now();
    rec.frozenDone =
      rec.status === 'validating' ? 0 : rec.status === 'finalizing' ? this.total(rec) : this.doneAt(rec, now);
    rec.status = 'cancelling';
    rec.times.cancelling = now;
    rec.cancelDoneAtMs = now + this.scenario.timing.cancellingSeconds * 1000;
    this.refresh(rec);
    return this.toWire(rec);
  }

  /** Per-client live numbers for the stats report. */
  live(clientId: string): { batchesByStatus: Record<string, number>; enqueuedTokens: Record<string, number> } {
    const batchesByStatus: Record<string, number> = {};
    const enqueuedTokens: Record<string, number> = {};
    for (const rec of this.batches.values()) {
      if (rec.clientId !== clientId) continue;
      this.refresh(rec);
      batchesByStatus[rec.status] = (batchesByStatus[rec.status] ?? 0) + 1;
      if (rec.enqueued) enqueuedTokens[rec.enqueued.model] = (enqueuedTokens[rec.enqueued.model] ?? 0) + rec.enqueued.tokens;
    }
    return { batchesByStatus, enqueuedTokens };
  }

  /** Re-evaluate every batch now (used after the clock jumps). */
  refreshAll(): void {
    for (const rec of this.batches.values()) this.refresh(rec);
  }

  /** Wait until background validation and result writing have settled. */
  async idle(): Promise<void> {
    while (this.work.size > 0) await Promise.allSettled([...this.work]);
  }

  /** Forget every batch. */
  async clear(): Promise<void> {
    for (const rec of this.batches.values()) rec.cancelTimer?.();
    this.batches.clear();
    await this.idle();
  }

  /** Stop all timers and wait for background work. */
  async close(): Promise<void> {
    this.closed = true;
    for (const rec of this.batches.values()) rec.cancelTimer?.();
    await this.idle();
  }

  // ---- timeline -------------------------------------------------------------------------------

  private track(p: Promise<unknown>): void {
    this.work.add(p);
    void p.finally(() => this.work.delete(p));
  }

  private total(rec: BatchRecord): number {
    return rec.input?.ok ? rec.input.total : 0;
  }

  /** Requests done at simulated time `t` while running. */
  private doneAt(rec: BatchRecord, t: number): number {
    const total = this.total(rec);
    if (rec.times.inProgress === null || total === 0) return 0;
    if (rec.processingMs <= 0) return total;
    const frac = (t - rec.times.inProgress) / rec.processingMs;
    return Math.max(0, Math.min(total, Math.floor(total * frac + 1e-9)));
  }

  private async validate(rec: BatchRecord): Promise<void> {
    try {
      rec.input = await validateInputFile({
        path: rec.inputFile.path,
        bytes: rec.inputFile.bytes,
        endpoint: rec.endpoint,
        limits: this.scenario.limits,
        codes: this.scenario.validation.codes,
        counter: this.deps.counter,
        keepLines: this.scenario.execution === 'instant' && rec.inputFile.bytes <= KEEP_LINES_MAX_BYTES,
        instantBodies: !(this.deps.promptCache && this.deps.counter.prefixes),
        decideFault: (customId, body) => {
          const occurrence = this.deps.stats.customIdSubmitted(rec.clientId, customId);
          rec.occurrences.push(occurrence);
          const fault = decideLineFault(this.scenario, {
            clientId: rec.clientId,
            customId,
            occurrence,
            endpoint: rec.endpoint,
            body,
          });
          if (fault !== 'none') this.deps.stats.fault(rec.clientId, `line_${fault}`);
          return fault;
        },
      });
    } catch (err) {
      this.deps.logger.warn('simulator: could not read a batch input file', { batch: rec.id, error: (err as Error).message });
      rec.input = {
        ok: false,
        errors: [
          {
            code: 'invalid_request',
            message: `Cannot find file ${rec.inputFile.id}, or organization ${rec.organization} does not have access to it.`,
            param: null,
            line: null,
          },
        ],
      };
    }
    if (!this.closed) this.refresh(rec);
  }

  /** Evaluate the plan at the current simulated time, then arm the timer for the next step. */
  private refresh(rec: BatchRecord): void {
    if (this.stepping.has(rec.id) || this.closed) return;
    this.stepping.add(rec.id);
    try {
      for (let i = 0; i < 10 && this.step(rec); i++);
    } finally {
      this.stepping.delete(rec.id);
    }
    this.schedule(rec);
  }

  private schedule(rec: BatchRecord): void {
    const next = this.nextWake(rec);
    if (rec.cancelTimer && next === rec.timerAt) return;
    rec.cancelTimer?.();
    rec.cancelTimer = null;
    rec.timerAt = null;
    // A due step that did not happen is waiting for real work (validation); that work refreshes.
    if (next !== null && next > this.deps.clock.now()) {
      rec.timerAt = next;
      rec.cancelTimer = this.deps.clock.at(next, () => {
        rec.cancelTimer = null;
        rec.timerAt = null;
        this.refresh(rec);
      });
    }
  }

  /** Simulated time of the batch's next planned transition, if any. */
  private nextWake(rec: BatchRecord): number | null {
    if (TERMINAL.has(rec.status) || rec.pending || this.closed) return null;
    let next: number;
    switch (rec.status) {
      case 'validating':
        next = Math.min(rec.validateUntilMs, rec.expiresAtMs);
        break;
      case 'in_progress':
        next = rec.plannedFinalizingAtMs <= rec.expiresAtMs && rec.faults.expireWithFraction === null ? rec.plannedFinalizingAtMs : rec.expiresAtMs;
        break;
      case 'finalizing':
        next = rec.plannedCompleteAtMs;
        break;
      case 'cancelling':
        next = rec.cancelDoneAtMs ?? Infinity;
        break;
      default:
        return null;
    }
    return Number.isFinite(next) ? next : null;
  }

  /** One transition if one is due; returns whether to look again. */
  private step(rec: BatchRecord): boolean {
    if (rec.pending) return false;
    const now = this.deps.clock.now();
    const timing = this.scenario.timing;
    switch (rec.status) {
      case 'validating': {
        if (!rec.input) return false;
        if (rec.validateUntilMs > rec.expiresAtMs && now >= rec.expiresAtMs) {
          // Stuck in validation past the window: it expires without running anything.
          rec.frozenDone = 0;
          return this.beginEnd(rec, 'expired', rec.expiresAtMs, 0);
        }
        if (now < rec.validateUntilMs) return false;
        const at = rec.validateUntilMs;
        if (!rec.input.ok) return this.fail(rec, at, rec.input.errors);
        const limitError = this.checkTokenLimit(rec, rec.input);
        if (limitError) return this.fail(rec, at, [limitError]);
        const input = rec.input;
        rec.status = 'in_progress';
        rec.times.inProgress = at;
        rec.model = resolveSnapshot(input.model);
        rec.enqueued = { model: resolveSnapshot(input.model), tokens: input.tokens };
        let processingMs = Math.max(timing.minProcessingSeconds, input.total * timing.secondsPerRequest) * 1000;
        if (rec.faults.expireWithFraction !== null) {
          const untilExpiry = rec.expiresAtMs - at;
          processingMs = rec.faults.expireWithFraction <= 0 ? Infinity : Math.max(processingMs, untilExpiry / rec.faults.expireWithFraction);
        }
        rec.processingMs = processingMs;
        rec.plannedFinalizingAtMs = at + processingMs;
        rec.plannedCompleteAtMs = rec.plannedFinalizingAtMs + (timing.finalizingSeconds + rec.faults.extraFinalizingSeconds) * 1000;
        return true;
      }
      case 'in_progress': {
        if (rec.plannedFinalizingAtMs <= rec.expiresAtMs && rec.faults.expireWithFraction === null) {
          if (now < rec.plannedFinalizingAtMs) return false;
          rec.status = 'finalizing';
          rec.times.finalizing = rec.plannedFinalizingAtMs;
          return true;
        }
        if (now < rec.expiresAtMs) return false;
        rec.frozenDone = this.doneAt(rec, rec.expiresAtMs);
        if (this.scenario.batchFaults.expireViaFinalizing) {
          rec.expiring = true;
          rec.status = 'finalizing';
          rec.times.finalizing = rec.expiresAtMs;
          rec.plannedCompleteAtMs = rec.expiresAtMs + timing.finalizingSeconds * 1000;
          return true;
        }
        return this.beginEnd(rec, 'expired', rec.expiresAtMs, rec.frozenDone);
      }
      case 'finalizing': {
        if (now < rec.plannedCompleteAtMs) return false;
        if (rec.expiring) return this.beginEnd(rec, 'expired', rec.plannedCompleteAtMs, rec.frozenDone ?? 0);
        return this.beginEnd(rec, 'completed', rec.plannedCompleteAtMs, this.total(rec));
      }
      case 'cancelling': {
        if (rec.cancelDoneAtMs === null || now < rec.cancelDoneAtMs || !rec.input) return false;
        return this.beginEnd(rec, 'cancelled', rec.cancelDoneAtMs, rec.frozenDone ?? 0);
      }
      default:
        return false;
    }
  }

  private limitFor(model: string): number {
    const limits = { ...this.scenario.limits.enqueuedTokens, ...this.deps.tokenLimits };
    const snapshot = resolveSnapshot(model);
    for (const m of [model, snapshot]) if (limits[m] !== undefined) return limits[m];
    let best: string | undefined;
    for (const key of Object.keys(limits)) {
      if ((snapshot.startsWith(`${key}-`) || model.startsWith(`${key}-`)) && (!best || key.length > best.length)) best = key;
    }
    return best !== undefined ? (limits[best] ?? this.scenario.limits.defaultEnqueuedTokens) : this.scenario.limits.defaultEnqueuedTokens;
  }

  private checkTokenLimit(rec: BatchRecord, input: ValidInput): BatchError | null {
    // Bring the organization's other batches up to date first, so ended batches have freed their tokens.
    for (const other of this.batches.values()) if (other !== rec && other.organization === rec.organization) this.refresh(other);
    const model = resolveSnapshot(input.model);
    let enqueued = 0;
    for (const other of this.batches.values()) {
      if (other.organization === rec.organization && other.enqueued?.model === model) enqueued += other.enqueued.tokens;
    }
    const limit = this.limitFor(input.model);
    if (enqueued + input.tokens <= limit) return null;
    this.deps.stats.fault(rec.clientId, 'token_limit_exceeded');
    return {
      code: 'token_limit_exceeded',
      message: `Enqueued token limit reached for ${input.model} in organization ${rec.organization}. Limit: ${limit.toLocaleString('en-US')} enqueued tokens. Please try again once some in_progress batches have been completed.`,
      param: null,
      line: null,
    };
  }

  private fail(rec: BatchRecord, atMs: number, errors: BatchError[]): boolean {
    if (rec.input?.ok) delete rec.input.lines; // nothing will run
    rec.status = 'failed';
    rec.times.failed = atMs;
    rec.errors = errors;
    void this.releaseInput(rec);
    this.ended(rec, 'batch.failed', atMs);
    return false;
  }

  private beginEnd(rec: BatchRecord, status: 'completed' | 'expired' | 'cancelled', atMs: number, done: number): boolean {
    rec.pending = { status, atMs, done };
    this.track(this.writeResults(rec));
    return false;
  }

  private async releaseInput(rec: BatchRecord): Promise<void> {
    if (!rec.inputRetained) return;
    rec.inputRetained = false;
    await this.deps.files.release(rec.inputFile);
  }

  private ended(rec: BatchRecord, type: BatchEventType, atMs: number): void {
    rec.enqueued = null;
    rec.cancelTimer?.();
    rec.cancelTimer = null;
    rec.timerAt = null;
    this.deps.logger.info('simulator: batch ended', { batch: rec.id, status: rec.status });
    this.deps.onTerminal?.(type, rec.id, this.sec(atMs) ?? 0);
  }

  /** Execute the requests that ran and write the output and error files, then flip the status. */
  private async writeResults(rec: BatchRecord): Promise<void> {
    const pending = rec.pending;
    if (!pending) return;
    const input = rec.input?.ok ? rec.input : null;
    const counts = { total: input?.total ?? 0, completed: 0, failed: 0 };
    const usage = { input: 0, cached: 0, output: 0, reasoning: 0 };
    let outputFileId: string | null = null;
    let errorFileId: string | null = null;
    if (input) {
      try {
        const result = await this.execute(rec, input, pending.status, pending.done, counts, usage);
        outputFileId = result.outputFileId;
        errorFileId = result.errorFileId;
      } catch (err) {
        this.deps.logger.warn('simulator: could not write batch results', { batch: rec.id, error: (err as Error).message });
      } finally {
        delete input.lines;
      }
    }
    if (this.closed || !this.batches.has(rec.id)) return;
    rec.pending = null;
    rec.status = pending.status;
    rec.times[pending.status] = pending.atMs;
    rec.outputFileId = outputFileId;
    rec.errorFileId = errorFileId;
    rec.finalCounts = counts;
    rec.usage = {
      input_tokens: usage.input,
      input_tokens_details: { cached_tokens: usage.cached },
      output_tokens: usage.output,
      output_tokens_details: { reasoning_tokens: usage.reasoning },
      total_tokens: usage.input + usage.output,
      prompt_tokens: 0,
      completion_tokens: 0,
      prompt_tokens_details: null,
      completion_tokens_details: null,
    };
    await this.releaseInput(rec);
    this.ended(rec, `batch.${pending.status}`, pending.atMs);
  }

  private async execute(
    rec: BatchRecord,
    input: ValidInput,
    status: 'completed' | 'expired' | 'cancelled',
    done: number,
    counts: { completed: number; failed: number },
    usage: { input: number; cached: number; output: number; reasoning: number },
  ): Promise<{ outputFileId: string | null; errorFileId: string | null }> {
    const files = this.deps.files;
    const seed = this.scenario.seed;
    const out = new ShuffledSink(files.openBlob());
    const errs = new ShuffledSink(files.openBlob());
    const writeUnrun = status !== 'cancelled' || this.scenario.cancel.unrunRequestsInErrorFile;
    const unrunCode = status === 'cancelled' ? this.scenario.cancel.unrunCode : 'batch_expired';
    const unrunMessage = status === 'cancelled' ? this.scenario.cancel.unrunMessage : BATCH_EXPIRED_MESSAGE;
    const usageKnobs = this.scenario.usage;
    const instant = this.scenario.execution === 'instant';
    const repeatRate = this.scenario.outputFaults.repeatedLine;
    const repeats: string[] = [];
    let i = 0;
    const run = async (customId: string, body: Record<string, unknown>, promptTokens?: number): Promise<void> => {
      const idKey = `${rec.clientId}|${customId}|${rec.occurrences[i] ?? 0}`;
      const keys = lineKeys(seed, idKey);
      if (i < done) {
        const executedAt = (rec.times.inProgress ?? rec.createdAtMs) + ((i + 1) / input.total) * Math.min(rec.processingMs, 1e15);
        const result = executeRequest(rec.endpoint, body, LINE_FAULTS[input.faults[i] ?? 0] ?? 'none', {
          seed,
          counter: this.deps.counter,
          cachedPromptFraction: usageKnobs.cachedPromptFraction,
          reasoningShare: usageKnobs.reasoningShare,
          createdAt: this.sec(executedAt) ?? 0,
          idKey,
          idBytes: keys.idBytes,
          cache: this.deps.promptCache ? { store: this.deps.promptCache, organization: rec.organization, atMs: executedAt } : null,
          instant,
          promptTokens,
        });
        const outLine = JSON.stringify({
          id: keys.lineId,
          custom_id: customId,
          response: { status_code: result.statusCode, request_id: keys.requestId, body: result.body },
          error: null,
        });
        if (result.statusCode === 200) {
          counts.completed++;
          if (result.usage) {
            usage.input += result.usage.prompt;
            usage.cached += result.usage.cached;
            usage.output += result.usage.completion;
            usage.reasoning += result.usage.reasoning;
          }
          this.deps.stats.customIdSucceeded(rec.clientId, customId);
          await out.push(keys.order, outLine);
          if (repeatRate > 0 && roll(seed, 'repeated-line', idKey) < repeatRate) {
            this.deps.stats.fault(rec.clientId, 'repeated_line');
            repeats.push(repeatedLine(keys, customId));
          }
        } else {
          counts.failed++;
          await errs.push(keys.order, outLine);
        }
      } else if (writeUnrun) {
        await errs.push(
          keys.order,
          JSON.stringify({ id: keys.lineId, custom_id: customId, response: null, error: { code: unrunCode, message: unrunMessage } }),
        );
      }
      i++;
      if (i % 250 === 0) await new Promise<void>((r) => setImmediate(r));
    };
    const kept = input.lines;
    if (kept) {
      // Validation kept the parsed requests (instant execution): no second read and parse.
      for (let k = 0; k < input.total; k++) {
        const planned = kept.promptTokens[k] ?? -1;
        await run(kept.customIds[k] ?? '', kept.bodies[k] ?? {}, planned >= 0 ? planned : undefined);
      }
    } else {
      const rl = fileLines(files.read(rec.inputFile));
      try {
        for await (const raw of rl) {
          if (i >= input.total) break;
          const text = raw.trim();
          if (text === '') continue;
          const line = JSON.parse(text) as { custom_id: string; body: Record<string, unknown> };
          await run(line.custom_id, line.body);
        }
      } finally {
        await rl.return(undefined);
      }
    }
    for (const line of repeats) await out.append(line);
    const createdAt = this.deps.clock.wallSeconds();
    const ttl = rec.outputExpiresAfterSeconds ?? DEFAULT_BATCH_FILE_TTL_SECONDS;
    const register = async (sink: ShuffledSink, kind: 'output' | 'error'): Promise<string | null> => {
      const bytes = await sink.finish();
      if (sink.lines === 0) {
        await sink.blob.abort();
        return null;
      }
      const f = files.add({
        clientId: rec.clientId,
        bytes,
        createdAt,
        createdAtMs: this.deps.clock.now(),
        filename: `batch_${rec.id}_${kind}.jsonl`,
        purpose: 'batch_output',
        expiresAt: createdAt + ttl,
        path: sink.blob.path,
        hiddenUntilMs: 0,
      });
      return f.id;
    };
    return { outputFileId: await register(out, 'output'), errorFileId: await register(errs, 'error') };
  }

  private toWire(rec: BatchRecord): WireBatch {
    const t = rec.times;
    return {
      id: rec.id,
      object: 'batch',
      endpoint: rec.endpoint,
      model: rec.status === 'validating' || rec.status === 'failed' ? null : rec.model,
      errors: rec.errors ? { object: 'list', data: rec.errors } : null,
      input_file_id: rec.inputFile.id,
      completion_window: '24h',
      status: rec.status,
      output_file_id: rec.outputFileId,
      error_file_id: rec.errorFileId,
      created_at: rec.createdAt,
      in_progress_at: this.sec(t.inProgress),
      expires_at: rec.createdAt + COMPLETION_WINDOW_SECONDS,
      finalizing_at: this.sec(t.finalizing),
      completed_at: this.sec(t.completed),
      failed_at: this.sec(t.failed),
      expired_at: this.sec(t.expired),
      cancelling_at: this.sec(t.cancelling),
      cancelled_at: this.sec(t.cancelled),
      request_counts: this.counts(rec),
      usage: rec.usage ?? this.runningUsage(rec),
      metadata: rec.metadata,
    };
  }

  /**
   * `usage` before the batch ends (ASSUMED, knob `usage.whileRunning`): null, zeros, or the input
   * tokens of the requests done so far (output is only known once the results are written).
   */
  private runningUsage(rec: BatchRecord): WireUsage | null {
    const mode = this.scenario.usage.whileRunning;
    if (mode === 'null' || rec.status === 'failed') return null;
    let input = 0;
    if (mode === 'partial' && rec.input?.ok && rec.times.inProgress !== null) {
      const done = rec.frozenDone ?? this.doneAt(rec, this.deps.clock.now());
      input = rec.input.tokensBefore[done] ?? 0;
    }
    return {
      input_tokens: input,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: 0,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: input,
      prompt_tokens: 0,
      completion_tokens: 0,
      prompt_tokens_details: null,
      completion_tokens_details: null,
    };
  }

  private counts(rec: BatchRecord): { total: number; completed: number; failed: number } {
    if (rec.finalCounts) return { ...rec.finalCounts };
    if (rec.status === 'failed' || !rec.input?.ok || rec.times.inProgress === null) {
      return { total: rec.input?.ok && rec.status === 'cancelling' ? rec.input.total : 0, completed: 0, failed: 0 };
    }
    const done = rec.frozenDone ?? this.doneAt(rec, this.deps.clock.now());
    const failed = rec.input.failedBefore[done] ?? 0;
    return { total: rec.input.total, completed: done - failed, failed };
  }
}

/**
 * The ids and the output-order key of one result line, all drawn from one SHA-512 of its key
 * (it took four SHA-256s, a tenth of the simulator's CPU on a large batch).
 */
function lineKeys(seed: number, idKey: string): { lineId: string; requestId: string; order: number; idBytes: Buffer } {
  const d = wideDigestOf([seed, 'line', idKey]);
  return { lineId: `batch_req_${d.toString('hex', 0, 16)}`, requestId: d.toString('hex', 16, 32), order: d.readUIntBE(32, 6) / 2 ** 48, idBytes: d.subarray(38) };
}

/** The `repeatedLine` fault's second line for a request: the same ids, a `server_error` answer. */
function repeatedLine(keys: { lineId: string; requestId: string }, customId: string): string {
  const body = { error: { message: SERVER_ERROR_MESSAGE, type: 'server_error', param: null, code: null } };
  return JSON.stringify({ id: keys.lineId, custom_id: customId, response: { status_code: 500, request_id: keys.requestId, body }, error: null });
}

/**
 * Writes result lines with a little deterministic reordering (blocks of 16 shuffled by a key
 * drawn from each line's ids): the real output order "may not match" the input order (reference §1.7).
 */
class ShuffledSink {
  private buffer: Array<{ key: number; line: string }> = [];
  lines = 0;

  constructor(readonly blob: BlobWriter) {}

  async push(order: number, line: string): Promise<void> {
    this.buffer.push({ key: order, line });
    this.lines++;
    if (this.buffer.length >= 16) await this.flush();
  }

  /** Writes `line` after everything pushed so far, unshuffled. */
  async append(line: string): Promise<void> {
    await this.flush();
    await this.blob.writeLine(line);
    this.lines++;
  }

  private async flush(): Promise<void> {
    const chunk = this.buffer.sort((a, b) => a.key - b.key);
    this.buffer = [];
    for (const c of chunk) await this.blob.writeLine(c.line);
  }

  async finish(): Promise<number> {
    await this.flush();
    return this.blob.finish();
  }
}
