import type { Logger } from 'pino';
import { defaultLimitFor, effectiveLimit } from '../budget/index.ts';
import type { Config } from '../config.ts';
import type { Db } from '../store/db.ts';
import * as modelLimits from '../store/model-limits.ts';

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
    private readonly now: () => Date = () => new Date(),
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
    if (cached && this.now().getTime() - cached.at < 5_000) return cached.value;
    const value = await modelLimits.learned(this.db, model);
    this.learnedCache.set(model, { value, at: this.now().getTime() });
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
    await modelLimits.learn(this.db, model, value, this.now());
    this.learnedCache.delete(model);
    this.log.warn({ model, reported, learned: value }, 'learned the enqueued-token limit from the provider');
    return value;
  }
}
