/**
 * Organisation-wide enqueued-token budget per model, shared by every process through Redis.
 * The reservation scripts and the reasons for the design are in `reservation-scripts.ts`.
 */
import type { Cluster, Redis } from 'ioredis';
import { BudgetError } from './budget-error.ts';
import { RELEASE, REPLACE, RESERVE, SNAPSHOT, runScript } from './reservation-scripts.ts';

/** Options of {@link TokenBudget}. */
export interface TokenBudgetOptions {
  /** Connection used for every call. Share the process's connection; do not set ioredis `keyPrefix`. */
  redis: Redis | Cluster;
  /** First part of every key, e.g. the fleet's `BATCHFLEET_PREFIX`. May contain a `{…}` hash tag. */
  prefix: string;
}

/** Result of {@link TokenBudget.reserve}. */
export interface ReserveResult {
  /** True if the batch now holds its reservation (newly taken, or already held). */
  ok: boolean;
  /** True if the batch already held a reservation; its recorded tokens are left unchanged. */
  alreadyHeld: boolean;
  /** Tokens reserved for the model after the call. */
  used: number;
  /** The limit the call was checked against. */
  limit: number;
}

/** One reservation, as given to {@link TokenBudget.replace}. */
export interface Reservation {
  batchId: string;
  tokens: number;
}

/** Redis keys of one model's budget; both share the `{model}` hash tag. */
export interface BudgetKeys {
  /** Hash: batch id -> reserved tokens. */
  reservations: string;
  /** Integer: sum of the hash. */
  used: string;
}

/** A consistent read of one model's budget. */
export interface BudgetSnapshot {
  used: number;
  reservations: Map<string, number>;
}

/**
 * Reserves enqueued input tokens per model, keyed by batch id, atomically across processes.
 *
 * Key layout (for prefix `bf` and model `gpt-4o-mini`):
 * - `bf:budget:{gpt-4o-mini}:res` hash batchId -> tokens
 * - `bf:budget:{gpt-4o-mini}:used` integer, always the sum of the hash
 * - `bf:budget:models` set of model names that have ever held a reservation (an index for
 *   {@link TokenBudget.models}; it lives in another slot, so it is maintained outside the scripts)
 *
 * Typical use: `reserve` before creating a batch, `release` when the batch reaches a terminal
 * status (or its creation definitely failed). A batch whose tokens exceed the limit can never be
 * reserved; check `fitsWithinLimit` (limits.ts) first and fail or split it instead of waiting.
 */
export class TokenBudget {
  private readonly redis: Redis | Cluster;
  private readonly prefix: string;

  constructor({ redis, prefix }: TokenBudgetOptions) {
    if (!redis) throw new BudgetError('redis connection is required');
    if (typeof prefix !== 'string' || prefix.length === 0) throw new BudgetError('prefix must be a non-empty string');
    this.redis = redis;
    this.prefix = prefix;
  }

  /** The Redis keys of `model`'s budget. */
  keys(model: string): BudgetKeys {
    checkModel(model);
    const base = `${this.prefix}:budget:{${model}}`;
    return { reservations: `${base}:res`, used: `${base}:used` };
  }

  /** Key of the set indexing models that have held reservations. */
  get modelsKey(): string {
    return `${this.prefix}:budget:models`;
  }

  /**
   * Reserves `tokens` for `batchId` if `used + tokens <= limit`. Idempotent per batch id: if the batch
   * already holds a reservation the call succeeds with `alreadyHeld: true` and changes nothing (even if
   * `tokens` or `limit` differ from the first call). When there is no room, returns `ok: false` and
   * changes nothing. `tokens > limit` is never granted: callers must not wait for such a batch
   * (see `fitsWithinLimit` in `limits.ts`).
   * @throws BudgetError on an empty/invalid model or batch id, or tokens/limit that are not
   *   non-negative safe integers.
   */
  async reserve(model: string, batchId: string, tokens: number, limit: number): Promise<ReserveResult> {
    const keys = this.keys(model);
    checkBatchId(batchId);
    checkCount('tokens', tokens);
    checkCount('limit', limit);
    // Index first: a reservation must never exist for a model the index does not list.
    await this.redis.sadd(this.modelsKey, model);
    const reply = await runScript(this.redis, RESERVE, [keys.reservations, keys.used], [batchId, tokens, limit]);
    const [ok, alreadyHeld, used] = reserveReply(reply);
    return { ok: ok === 1, alreadyHeld: alreadyHeld === 1, used, limit };
  }

  /**
   * Releases `batchId`'s reservation. Idempotent.
   * @returns true if a reservation was released, false if the batch held none.
   */
  async release(model: string, batchId: string): Promise<boolean> {
    const keys = this.keys(model);
    checkBatchId(batchId);
    const reply = await runScript(this.redis, RELEASE, [keys.reservations, keys.used], [batchId]);
    return reply === 1;
  }

  /** Tokens currently reserved for `model` (0 when none). */
  async used(model: string): Promise<number> {
    const value = await this.redis.get(this.keys(model).used);
    return value === null ? 0 : toInteger(value, 'used');
  }

  /** Current reservations of `model`, batch id -> tokens. */
  async reservations(model: string): Promise<Map<string, number>> {
    const hash = await this.redis.hgetall(this.keys(model).reservations);
    return new Map(Object.entries(hash).map(([id, tokens]) => [id, toInteger(tokens, 'reservation')]));
  }

  /** `used` and the reservations of `model`, read atomically (one script), so they always agree. */
  async snapshot(model: string): Promise<BudgetSnapshot> {
    const keys = this.keys(model);
    const reply = await runScript(this.redis, SNAPSHOT, [keys.reservations, keys.used], []);
    if (!Array.isArray(reply) || reply.length !== 2 || !Array.isArray(reply[1])) {
      throw new BudgetError(`unexpected reply from ${SNAPSHOT.name} script`, 'unexpected-reply');
    }
    const [used, flat] = reply as [unknown, unknown[]];
    const reservations = new Map<string, number>();
    for (let i = 0; i + 1 < flat.length; i += 2) reservations.set(String(flat[i]), toInteger(flat[i + 1], 'reservation'));
    return { used: toInteger(used, 'used'), reservations };
  }

  /** Models that currently hold at least one reservation, sorted. */
  async models(): Promise<string[]> {
    const indexed = await this.redis.smembers(this.modelsKey);
    const held = await Promise.all(
      indexed.map(async (model) => {
        try {
          return (await this.redis.hlen(this.keys(model).reservations)) > 0 ? model : null;
        } catch (err) {
          // A name written by something else that is not a valid model: not ours to list.
          if (err instanceof BudgetError) return null;
          throw err;
        }
      }),
    );
    return held.filter((m): m is string => m !== null).sort();
  }

  /**
   * Atomically replaces `model`'s reservations with exactly `reservations` (an empty array clears
   * them). For the reconciler rebuilding the budget from PostgreSQL; the limit is not checked,
   * because the batches already exist at the provider.
   * @throws BudgetError on invalid entries or a batch id given twice.
   */
  async replace(model: string, reservations: ReadonlyArray<Reservation>): Promise<void> {
    const keys = this.keys(model);
    if (!Array.isArray(reservations)) throw new BudgetError('reservations must be an array');
    const seen = new Set<string>();
    const args: (string | number)[] = [];
    for (const { batchId, tokens } of reservations) {
      checkBatchId(batchId);
      checkCount('tokens', tokens);
      if (seen.has(batchId)) throw new BudgetError(`batch id "${batchId}" given twice`, 'duplicate-batch-id');
      seen.add(batchId);
      args.push(batchId, tokens);
    }
    if (args.length > 0) await this.redis.sadd(this.modelsKey, model);
    await runScript(this.redis, REPLACE, [keys.reservations, keys.used], args);
  }
}

function checkModel(model: unknown): asserts model is string {
  if (typeof model !== 'string' || model.trim().length === 0) throw new BudgetError('model must be a non-empty string');
  // Braces would move the hash tag and split the model's keys across slots.
  if (/[{}\s]/.test(model)) throw new BudgetError(`model must not contain braces or whitespace: "${model}"`);
}

function checkBatchId(batchId: unknown): asserts batchId is string {
  if (typeof batchId !== 'string' || batchId.length === 0) throw new BudgetError('batchId must be a non-empty string');
}

function checkCount(what: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new BudgetError(`${what} must be a non-negative integer, got ${String(value)}`);
  }
}

function toInteger(value: unknown, what: string): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n)) throw new BudgetError(`unexpected ${what} value in Redis: ${String(value)}`, 'unexpected-reply');
  return n;
}

function reserveReply(reply: unknown): [ok: number, alreadyHeld: number, used: number] {
  if (!Array.isArray(reply) || reply.length !== 3) {
    throw new BudgetError(`unexpected reply from ${RESERVE.name} script`, 'unexpected-reply');
  }
  const [ok, held, used] = reply as unknown[];
  return [toInteger(ok, RESERVE.name), toInteger(held, RESERVE.name), toInteger(used, 'used')];
}
