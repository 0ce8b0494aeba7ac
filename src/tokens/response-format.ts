import { describe, isRecord, malformed } from './body-shape.ts';
import type { CountContext } from './count-context.ts';

/**
 * GUESS: fixed tokens added for a `json_schema` response format on top of its name, description and
 * schema. OpenAI publishes no rule; the schema is probably rendered more compactly than JSON, so counting
 * the compact JSON plus this overhead should err high.
 */
export const RESPONSE_FORMAT_OVERHEAD = 10;

/**
 * Tokens of a structured-output format: Chat Completions `response_format`
 * (`{type:'json_schema', json_schema:{name, description?, schema, strict?}}`) or Responses `text.format`
 * (`{type:'json_schema', name, description?, schema, strict?}`).
 * Counted as `RESPONSE_FORMAT_OVERHEAD + tokens(name) + tokens(description) + tokens(JSON(schema))`
 * — an over-estimate by design. `text` and `json_object` formats add nothing (no known rule); other types
 * are counted as their JSON. The schema JSON is a long string, so a schema shared by many requests is
 * served from the LRU.
 */
export function countResponseFormat(ctx: CountContext, format: unknown, path: string): number {
  if (format === undefined || format === null) return 0;
  if (!isRecord(format)) throw malformed(path, `must be an object, got ${describe(format)}`);
  const type = format.type;
  if (type === 'text' || type === 'json_object') return 0;
  if (type !== 'json_schema') return ctx.text(JSON.stringify(format));
  const def = isRecord(format.json_schema) ? format.json_schema : format;
  let n = RESPONSE_FORMAT_OVERHEAD;
  if (typeof def.name === 'string') n += ctx.text(def.name);
  if (typeof def.description === 'string') n += ctx.text(def.description);
  if (def.schema !== undefined) n += ctx.text(JSON.stringify(def.schema));
  return n;
}
