import { describe, isRecord, malformed, stripFinalDot } from './body-shape.ts';
import type { CountContext } from './count-context.ts';
import type { ToolOverheads } from './model-profile.ts';

/** Keys of a property schema that the cookbook formula already covers. */
const COVERED_PROPERTY_KEYS = new Set(['type', 'description', 'enum']);
/** Keys of a `parameters` schema that the cookbook formula already covers (via its constants). */
const COVERED_PARAMETER_KEYS = new Set(['type', 'properties', 'required', 'additionalProperties']);

/**
 * Tokens of a `tools` list (Chat Completions `{type:'function', function:{…}}` or Responses
 * `{type:'function', name, …}`) with the cookbook's `num_tokens_for_tools`:
 * per function `func_init + tokens("name:description")` (one trailing "." dropped); if it has properties
 * `+ prop_init` and per property `prop_key + tokens("key:type:description")`, with enums
 * `enum_init + Σ(enum_item + tokens(item))`; after all functions `+ func_end`.
 *
 * Beyond the cookbook (which only handles flat string/enum properties), all GUESSES that err high:
 * - a missing description counts as empty (`"name:"`, `"key:type:"`);
 * - anything in a property schema other than type/description/enum (nested `properties`, `items`,
 *   `anyOf`, `format`, …) and anything in `parameters` other than type/properties/required/
 *   additionalProperties (e.g. `$defs`) is counted as its compact JSON;
 * - a non-string `type` (e.g. `["string","null"]`) is counted as its JSON;
 * - custom tools count `func_init + "name:description" + JSON(format)`; hosted tools (web_search, file_search,
 *   …) count `func_init + JSON(tool)` — their hidden instructions are unknown and NOT included.
 *
 * The result is cached per encoding under the list's JSON, so a tool list shared by many requests is
 * counted once.
 */
export function countTools(ctx: CountContext, tools: unknown, path: string): number {
  if (tools === undefined || tools === null) return 0;
  if (!Array.isArray(tools)) throw malformed(path, `must be an array of tools, got ${describe(tools)}`);
  if (tools.length === 0) return 0;
  return ctx.block('tools', JSON.stringify(tools), () => {
    const o = ctx.profile.tools;
    let n = 0;
    for (let i = 0; i < tools.length; i++) {
      const tool: unknown = tools[i];
      const at = `${path}[${i}]`;
      if (!isRecord(tool)) throw malformed(at, `must be an object, got ${describe(tool)}`);
      if (tool.type === 'function') {
        const fn = isRecord(tool.function) ? tool.function : tool;
        n += functionTokens(ctx, o, fn, isRecord(tool.function) ? `${at}.function` : at);
      } else if (tool.type === 'custom') {
        const def = isRecord(tool.custom) ? tool.custom : tool;
        const name = typeof def.name === 'string' ? def.name : '';
        const desc = typeof def.description === 'string' ? stripFinalDot(def.description) : '';
        n += o.funcInit + ctx.text(`${name}:${desc}`);
        if (def.format !== undefined) n += ctx.text(JSON.stringify(def.format));
      } else {
        n += o.funcInit + ctx.text(JSON.stringify(tool));
      }
    }
    return n + o.funcEnd;
  });
}

/**
 * Tokens of the legacy Chat Completions `functions` list (`[{name, description, parameters}]`), counted
 * with the same rule as {@link countTools}.
 */
export function countFunctions(ctx: CountContext, functions: unknown, path: string): number {
  if (functions === undefined || functions === null) return 0;
  if (!Array.isArray(functions)) throw malformed(path, `must be an array of functions, got ${describe(functions)}`);
  if (functions.length === 0) return 0;
  return ctx.block('functions', JSON.stringify(functions), () => {
    const o = ctx.profile.tools;
    let n = 0;
    for (let i = 0; i < functions.length; i++) {
      const fn: unknown = functions[i];
      if (!isRecord(fn)) throw malformed(`${path}[${i}]`, `must be an object, got ${describe(fn)}`);
      n += functionTokens(ctx, o, fn, `${path}[${i}]`);
    }
    return n + o.funcEnd;
  });
}

/**
 * Tokens of a `tool_choice` naming one function. GUESS: the function name plus 3; string choices
 * ("auto", "none", "required") add nothing.
 */
export function countToolChoice(ctx: CountContext, choice: unknown): number {
  if (!isRecord(choice)) return 0;
  const fn = isRecord(choice.function) ? choice.function : choice;
  return typeof fn.name === 'string' ? ctx.text(fn.name) + 3 : 0;
}

function functionTokens(ctx: CountContext, o: ToolOverheads, fn: Record<string, unknown>, path: string): number {
  if (typeof fn.name !== 'string' || fn.name.length === 0) {
    throw malformed(`${path}.name`, `must be a non-empty string, got ${describe(fn.name)}`);
  }
  const desc = typeof fn.description === 'string' ? stripFinalDot(fn.description) : '';
  let n = o.funcInit + ctx.text(`${fn.name}:${desc}`);
  const params = fn.parameters;
  if (params === undefined || params === null) return n;
  if (!isRecord(params)) throw malformed(`${path}.parameters`, `must be a JSON schema object, got ${describe(params)}`);
  const props = params.properties;
  if (isRecord(props)) {
    let first = true;
    for (const key of Object.keys(props)) {
      if (first) {
        n += o.propInit;
        first = false;
      }
      n += o.propKey + propertyTokens(ctx, o, key, props[key]);
    }
  }
  const extra = uncovered(params, COVERED_PARAMETER_KEYS);
  if (extra !== undefined) n += ctx.text(JSON.stringify(extra));
  return n;
}

function propertyTokens(ctx: CountContext, o: ToolOverheads, key: string, schema: unknown): number {
  if (!isRecord(schema)) return ctx.text(`${key}:${JSON.stringify(schema) ?? ''}:`);
  let n = 0;
  const type = typeof schema.type === 'string' ? schema.type : schema.type === undefined ? '' : JSON.stringify(schema.type);
  const desc = typeof schema.description === 'string' ? stripFinalDot(schema.description) : '';
  if ('enum' in schema) {
    n += o.enumInit;
    if (Array.isArray(schema.enum)) {
      for (const item of schema.enum) {
        n += o.enumItem + ctx.text(typeof item === 'string' ? item : (JSON.stringify(item) ?? ''));
      }
    }
  }
  n += ctx.text(`${key}:${type}:${desc}`);
  const extra = uncovered(schema, COVERED_PROPERTY_KEYS);
  if (extra !== undefined) n += ctx.text(JSON.stringify(extra));
  return n;
}

/** The keys of `obj` not in `covered`, or undefined when there are none. */
function uncovered(obj: Record<string, unknown>, covered: Set<string>): Record<string, unknown> | undefined {
  let out: Record<string, unknown> | undefined;
  for (const key of Object.keys(obj)) {
    if (covered.has(key)) continue;
    out ??= {};
    out[key] = obj[key];
  }
  return out;
}
