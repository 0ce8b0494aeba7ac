import { BatchfleetError } from '../errors.ts';

/** Items that do not match their task's input schema; nothing was enqueued. */
export class EnqueueValidationError extends BatchfleetError {
  constructor(
    readonly task: string,
    readonly problems: Array<{ externalId: string; path: string; message: string }>,
  ) {
    const first = problems[0];
    super(
      `${problems.length} item(s) of task "${task}" do not match its input schema; first: ` +
        (first ? `externalId "${first.externalId}": ${first.path || '(input)'}: ${first.message}` : '(none)'),
    );
  }
}

/** `wait()` or a handle's `results()` ran out of time; `missing` lists the external ids still without a result. */
export class ResultTimeoutError extends BatchfleetError {
  constructor(
    readonly task: string,
    readonly missing: string[],
    readonly timeoutMs: number,
  ) {
    super(`no result within ${timeoutMs} ms for ${missing.length} item(s) of task "${task}" (first: "${missing[0] ?? ''}")`);
  }
}

/** A result message that carries ids only (task setting or oversized output) and no `db` to read the rest from. */
export class ResultPayloadError extends BatchfleetError {
  constructor(
    readonly task: string,
    readonly externalId: string,
  ) {
    super(`the result of "${externalId}" (task "${task}") carries ids only; pass \`db\` to createClient to read it from PostgreSQL`);
  }
}

/** A message of a results job that is not a valid result message: `onResult` skips it and delivers the rest of the job. */
export class ResultMessageError extends BatchfleetError {
  constructor(
    readonly task: string,
    readonly jobId: string,
    readonly index: number,
    readonly reason: string,
  ) {
    super(`message ${index} of results job "${jobId}" (task "${task}") is not a result message: ${reason}; skipped`);
  }
}

/** A task name or definition this client was not created with. */
export class ClientTaskError extends BatchfleetError {}
