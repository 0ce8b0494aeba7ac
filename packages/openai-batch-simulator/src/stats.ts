/**
 * What the simulator saw, per client (an API key, identified only by a hash): how many files and
 * batches were created, which batches share an input file or a metadata value, how often each
 * custom_id was submitted and succeeded. Tests use it to prove nothing was submitted twice.
 */

/** Per-client counters. */
export interface ClientStats {
  /** `key_` + a hash of the API key (never the key). */
  client: string;
  organization: string;
  /** API requests received (under /v1). */
  requests: number;
  filesCreated: number;
  filesDeleted: number;
  batchesCreated: number;
  batchesByStatus: Record<string, number>;
  /** input_file_id -> batches created from it (creation order). */
  batchesByInputFile: Record<string, { count: number; batchIds: string[] }>;
  /** metadata key -> value -> batches carrying it (creation order). */
  batchesByMetadata: Record<string, Record<string, { count: number; batchIds: string[] }>>;
  /** Input files that more than one batch was created from. */
  duplicateInputFiles: string[];
  customIds: {
    /** Request lines accepted into batches (validated files only). */
    submitted: number;
    distinct: number;
    /** custom_ids that appeared in more than one batch. */
    resubmitted: number;
    /** custom_ids with a 200 result in more than one batch (work paid for twice). */
    succeededMoreThanOnce: number;
    /** Up to 100 of them. */
    succeededMoreThanOnceSample: string[];
  };
  /** model -> input tokens of this client's unfinished batches. */
  enqueuedTokens: Record<string, number>;
  /** fault name -> times injected for this client. */
  faults: Record<string, number>;
}

/** The whole inspection report (`GET /_simulator/stats`, `handle.stats()`). */
export interface SimulatorStats {
  scenario: string;
  seed: number;
  timeScale: number;
  /** Simulated now, unix seconds. */
  now: number;
  totals: {
    requests: number;
    filesCreated: number;
    batchesCreated: number;
    faults: Record<string, number>;
    webhooks: { events: number; attempts: number; delivered: number; failedAttempts: number; duplicates: number; gaveUp: number };
  };
  clients: Record<string, ClientStats>;
}

interface ClientState {
  client: string;
  organization: string;
  requests: number;
  filesCreated: number;
  filesDeleted: number;
  batchesCreated: number;
  byInputFile: Map<string, string[]>;
  byMetadata: Map<string, Map<string, string[]>>;
  occurrences: Map<string, number>;
  successes: Map<string, number>;
  submitted: number;
  faults: Map<string, number>;
}

const bump = (m: Map<string, number>, k: string, by = 1): number => {
  const v = (m.get(k) ?? 0) + by;
  m.set(k, v);
  return v;
};

/** Collects the counters behind {@link SimulatorStats}. */
export class StatsTracker {
  private clients = new Map<string, ClientState>();
  private requests = 0;
  private filesCreated = 0;
  private batchesCreated = 0;
  private faults = new Map<string, number>();
  readonly webhooks = { events: 0, attempts: 0, delivered: 0, failedAttempts: 0, duplicates: 0, gaveUp: 0 };

  private state(client: string, organization = ''): ClientState {
    let s = this.clients.get(client);
    if (!s) {
      s = {
        client,
        organization,
        requests: 0,
        filesCreated: 0,
        filesDeleted: 0,
        batchesCreated: 0,
        byInputFile: new Map(),
        byMetadata: new Map(),
        occurrences: new Map(),
        successes: new Map(),
        submitted: 0,
        faults: new Map(),
      };
      this.clients.set(client, s);
    }
    if (organization && !s.organization) s.organization = organization;
    return s;
  }

  request(client: string, organization: string): void {
    this.requests++;
    this.state(client, organization).requests++;
  }

  fault(client: string | null, name: string): void {
    bump(this.faults, name);
    if (client) bump(this.state(client).faults, name);
  }

  fileCreated(client: string): void {
    this.filesCreated++;
    this.state(client).filesCreated++;
  }

  fileDeleted(client: string): void {
    this.state(client).filesDeleted++;
  }

  batchCreated(client: string, batchId: string, inputFileId: string, metadata: Record<string, string> | null): void {
    this.batchesCreated++;
    const s = this.state(client);
    s.batchesCreated++;
    const list = s.byInputFile.get(inputFileId) ?? [];
    list.push(batchId);
    s.byInputFile.set(inputFileId, list);
    for (const [k, v] of Object.entries(metadata ?? {})) {
      const byValue = s.byMetadata.get(k) ?? new Map<string, string[]>();
      const ids = byValue.get(v) ?? [];
      ids.push(batchId);
      byValue.set(v, ids);
      s.byMetadata.set(k, byValue);
    }
  }

  /** Count a custom_id submission; returns how many earlier batches carried it (its occurrence). */
  customIdSubmitted(client: string, customId: string): number {
    const s = this.state(client);
    s.submitted++;
    return bump(s.occurrences, customId) - 1;
  }

  customIdSucceeded(client: string, customId: string): void {
    bump(this.state(client).successes, customId);
  }

  /** Build the report; `live` supplies what the batch engine knows right now. */
  snapshot(
    meta: { scenario: string; seed: number; timeScale: number; now: number },
    live: (client: string) => { batchesByStatus: Record<string, number>; enqueuedTokens: Record<string, number> },
  ): SimulatorStats {
    const clients: Record<string, ClientStats> = {};
    for (const s of this.clients.values()) {
      const byInputFile: ClientStats['batchesByInputFile'] = {};
      for (const [f, ids] of s.byInputFile) byInputFile[f] = { count: ids.length, batchIds: [...ids] };
      const byMetadata: ClientStats['batchesByMetadata'] = {};
      for (const [k, values] of s.byMetadata) {
        const out: Record<string, { count: number; batchIds: string[] }> = {};
        for (const [v, ids] of values) out[v] = { count: ids.length, batchIds: [...ids] };
        byMetadata[k] = out;
      }
      let resubmitted = 0;
      for (const n of s.occurrences.values()) if (n > 1) resubmitted++;
      const twice = [...s.successes].filter(([, n]) => n > 1).map(([id]) => id);
      const l = live(s.client);
      clients[s.client] = {
        client: s.client,
        organization: s.organization,
        requests: s.requests,
        filesCreated: s.filesCreated,
        filesDeleted: s.filesDeleted,
        batchesCreated: s.batchesCreated,
        batchesByStatus: l.batchesByStatus,
        batchesByInputFile: byInputFile,
        batchesByMetadata: byMetadata,
        duplicateInputFiles: [...s.byInputFile].filter(([, ids]) => ids.length > 1).map(([f]) => f),
        customIds: {
          submitted: s.submitted,
          distinct: s.occurrences.size,
          resubmitted,
          succeededMoreThanOnce: twice.length,
          succeededMoreThanOnceSample: twice.slice(0, 100),
        },
        enqueuedTokens: l.enqueuedTokens,
        faults: Object.fromEntries(s.faults),
      };
    }
    return {
      ...meta,
      totals: {
        requests: this.requests,
        filesCreated: this.filesCreated,
        batchesCreated: this.batchesCreated,
        faults: Object.fromEntries(this.faults),
        webhooks: { ...this.webhooks },
      },
      clients,
    };
  }

  /** Forget everything. */
  reset(): void {
    this.clients.clear();
    this.requests = 0;
    this.filesCreated = 0;
    this.batchesCreated = 0;
    this.faults.clear();
    for (const k of Object.keys(this.webhooks) as Array<keyof StatsTracker['webhooks']>) this.webhooks[k] = 0;
  }
}
