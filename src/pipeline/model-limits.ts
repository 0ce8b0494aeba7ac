import type { Logger } from 'pino';
import { defaultLimitFor, effectiveLimit } from '../budget/index.ts';
import type { Config } from '../config.ts';
import type { Db } from '../db/client.ts';
import { query, execute } from '../db/sql.ts';

/** The smallest documented tier-1 limit: used for models the tier table does not know. */
const UNKNOWN_MODEL_LIMIT = 90_000;

export interface ModelLimitView {
  model: string;
  configured: number;
  learned: number | null;
  effective: number;
}

/**
 * A model's enqueued-token limit: configured (TOKEN_LIMITS, else the tier table), lowered by what
 * the provider told us (learned, persisted in PostgreSQL), minus the safety margin.
 */
export class ModelLimits {
  private learnedCache = new Map<string, { value: number | null; at: number }>();

  constructor(
    private readonly db: Db,
    private readonly config: Config,
    private readonly log: Logger,
  ) {}

  configured(model: string): number {
    const explicit = this.config.budget.tokenLimits[model];
    if (explicit !== undefined) return explicit;
    const fromTier = defaultLimitFor(model, this.config.budget.tier);
    if (fromTier !== null) return fromTier;
    this.log.warn({ model }, 'no enqueued-token limit known for this model; using the smallest tier-1 limit');
    return UNKNOWN_MODEL_LIMIT;
  }

  async learned(model: string): Promise<number | null> {
    const cached = this.learnedCache.get(model);
    if (cached && Date.now() - cached.at < 5_000) return cached.value;
    const rows = await query<{ limit: string }>(this.db, 'select learned_limit::text as "limit" from model_limits where model = $1', model);
    const value = rows[0] ? Number(rows[0].limit) : null;
    this.learnedCache.set(model, { value, at: Date.now() });
    return value;
  }

  async effective(model: string): Promise<number> {
    return effectiveLimit({ configured: this.configured(model), learned: await this.learned(model), safetyMargin: this.config.budget.safetyMargin });
  }

  async view(model: string): Promise<ModelLimitView> {
    return { model, configured: this.configured(model), learned: await this.learned(model), effective: await this.effective(model) };
  }

  /** Records a limit the provider reported; never above the configured one. Returns the stored value. */
  async learn(model: string, reported: number): Promise<number> {
    const value = Math.min(reported, this.configured(model));
    await execute(
      this.db,
      `insert into model_limits (model, learned_limit, source, updated_at) values ($1, $2, 'token_limit_exceeded', now())
       on conflict (model) do update set learned_limit = excluded.learned_limit, updated_at = now()`,
      model,
      value,
    );
    this.learnedCache.delete(model);
    this.log.warn({ model, reported, learned: value }, 'learned the enqueued-token limit from the provider');
    return value;
  }
}
