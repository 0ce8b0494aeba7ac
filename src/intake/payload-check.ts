/*
 * Intake payload validation that names the field and the rule for every kind of bad payload.
 *
 * A payload is `{ task, items: [{ externalId, input }, ...] }` or `{ task, externalId, input }`. Problems
 * with the payload as a whole (not an object, no task, `items: null`, 10,001 items, a task name holding a
 * NUL) reject the job for good. Problems with one entry of `items` reject that entry alone, so the others
 * are stored. Every check here is pure; the caller records rejections and stores items.
 */
import { findUnstorableText, safeText, textProblem } from './sanitize.ts';

/** Limits of {@link checkIntakePayload}. */
export interface PayloadLimits {
  /** @defaultValue 10_000 */
  maxItems: number;
  /** @defaultValue 256 */
  maxExternalIdLength: number;
  /** @defaultValue 200 */
  maxTaskLength: number;
}

export const DEFAULT_PAYLOAD_LIMITS: PayloadLimits = { maxItems: 10_000, maxExternalIdLength: 256, maxTaskLength: 200 };

/** An entry that passed the generic checks (the task's own input schema comes later). */
export interface CheckedItem {
  externalId: string;
  input: unknown;
}

/** An entry rejected alone; `externalId` is `items[<i>]` when the entry has no usable id. */
export interface ItemRejection {
  externalId: string;
  reason: string;
}

/** The verdict on a payload. */
export type PayloadCheck =
  | { ok: true; task: string; items: CheckedItem[]; rejected: ItemRejection[] }
  | { ok: false; reason: string; task: string | null };

/** "null", "an array", "a number", ...: how a wrong value is named in a reason. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'an array';
  const t = typeof v;
  return t === 'object' ? 'an object' : t === 'undefined' ? 'nothing' : `a ${t}`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const PAYLOAD_KEYS = new Set(['task', 'items', 'externalId', 'input']);

function checkTask(task: unknown, limits: PayloadLimits): string | null {
  if (task === undefined) return 'task is missing';
  if (typeof task !== 'string') return `task must be a string, got ${describeValue(task)}`;
  if (task.length === 0) return 'task must not be empty';
  if (task.length > limits.maxTaskLength) return `task is longer than ${limits.maxTaskLength} characters`;
  const problem = textProblem(task);
  return problem ? `task contains ${problem}` : null;
}

/** The problem with an external id at `field` (e.g. `externalId` or `items[3].externalId`), or null. */
export function checkExternalId(id: unknown, field: string, limits: PayloadLimits = DEFAULT_PAYLOAD_LIMITS): string | null {
  if (id === undefined) return `${field} is missing`;
  if (typeof id !== 'string') return `${field} must be a string, got ${describeValue(id)}`;
  if (id.length === 0) return `${field} must not be empty`;
  if (id.length > limits.maxExternalIdLength) return `${field} is longer than ${limits.maxExternalIdLength} characters`;
  const problem = textProblem(id);
  return problem ? `${field} contains ${problem}` : null;
}

/** The problem with an item's input (missing, or holding text PostgreSQL cannot store), or null. */
export function checkInput(input: unknown): string | null {
  if (input === undefined || input === null) return `input is missing (got ${describeValue(input)})`;
  return findUnstorableText(input, 'input')?.message ?? null;
}

/**
 * Checks an intake payload. Never throws, whatever `payload` is.
 * @returns `ok: false` with a reason naming the field and the rule when the payload as a whole is bad;
 *   otherwise the task name, the entries that passed and the entries rejected alone, each with its reason.
 */
export function checkIntakePayload(payload: unknown, limits: PayloadLimits = DEFAULT_PAYLOAD_LIMITS): PayloadCheck {
  if (!isPlainObject(payload)) {
    return { ok: false, task: null, reason: `payload must be a JSON object with "task" and "items" (or "externalId" and "input"), got ${describeValue(payload)}` };
  }
  const taskProblem = checkTask(payload.task, limits);
  const taskName = typeof payload.task === 'string' ? safeText(payload.task, limits.maxTaskLength) : null;
  if (taskProblem) return { ok: false, task: taskName, reason: taskProblem };
  const task = payload.task as string;

  for (const key of Object.keys(payload)) {
    if (!PAYLOAD_KEYS.has(key)) {
      return { ok: false, task, reason: `unknown field ${JSON.stringify(safeText(key, 40))} (allowed: task, items, or task, externalId, input)` };
    }
  }
  const single = 'externalId' in payload || 'input' in payload;
  if ('items' in payload && single) {
    return { ok: false, task, reason: 'payload has both "items" and "externalId"/"input": send one form or the other' };
  }
  if (single) {
    const problem = checkExternalId(payload.externalId, 'externalId', limits) ?? checkInput(payload.input);
    if (problem) return { ok: false, task, reason: problem };
    return { ok: true, task, items: [{ externalId: payload.externalId as string, input: payload.input }], rejected: [] };
  }
  if (!('items' in payload)) return { ok: false, task, reason: 'payload needs "items" (an array), or "externalId" and "input"' };

  const items = payload.items;
  if (!Array.isArray(items)) return { ok: false, task, reason: `items must be an array, got ${describeValue(items)}` };
  if (items.length === 0) return { ok: false, task, reason: 'items is empty' };
  if (items.length > limits.maxItems) {
    return { ok: false, task, reason: `items has ${items.length} entries: more than ${limits.maxItems.toLocaleString('en-US')} items in one job` };
  }

  const good: CheckedItem[] = [];
  const rejected: ItemRejection[] = [];
  items.forEach((item: unknown, i) => {
    const at = `items[${i}]`;
    if (!isPlainObject(item)) {
      rejected.push({ externalId: at, reason: `${at} must be an object with externalId and input, got ${describeValue(item)}` });
      return;
    }
    const idProblem = checkExternalId(item.externalId, `${at}.externalId`, limits);
    if (idProblem) {
      rejected.push({ externalId: at, reason: idProblem });
      return;
    }
    const externalId = item.externalId as string;
    const inputProblem = checkInput(item.input);
    if (inputProblem) {
      rejected.push({ externalId, reason: inputProblem });
      return;
    }
    good.push({ externalId, input: item.input });
  });
  return { ok: true, task, items: good, rejected };
}
