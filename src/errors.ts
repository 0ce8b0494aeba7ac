/**
 * Typed errors, following BullMQ's idiom: an exported message constant where one is fixed,
 * `name` taken from the constructor, and the prototype fixed up so `instanceof` works.
 */
export class BatchfleetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = this.constructor.name;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/** The environment does not describe a valid configuration. */
export class ConfigError extends BatchfleetError {}

/** An intake payload was rejected; `reason` is what the producer sees. */
export class IntakeRejectedError extends BatchfleetError {
  constructor(
    readonly reason: string,
    readonly task?: string,
  ) {
    super(`intake payload rejected: ${reason}`);
  }
}

/** A task name that no registered task answers to. */
export class UnknownTaskError extends BatchfleetError {
  constructor(readonly task: string) {
    super(`unknown task "${task}"`);
  }
}

/** A task module that does not satisfy the task contract. */
export class TaskDefinitionError extends BatchfleetError {}

/** A provider call failed; `retryable` says whether trying again can help. */
export class ProviderError extends BatchfleetError {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
    readonly code?: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** A record looked up by an id that nothing answers to. */
export class UnknownRecordError extends BatchfleetError {
  constructor(
    readonly kind: 'batch' | 'item',
    readonly id: string,
  ) {
    super(`no ${kind} ${id}`);
  }
}
