/*
 * Why the token budget works this way
 * -----------------------------------
 * OpenAI fails a whole batch (`token_limit_exceeded`) when the input tokens of all unfinished
 * batches for a model exceed an organisation-wide limit. Many submitters in many processes must
 * therefore agree on one running total, and "check there is room, then take it" must be a single
 * step: two submitters that both read "room for one more" and both submit would overshoot.
 *
 * - Each reservation is a field of a hash keyed by batch id (`…:res`, batchId -> tokens), so a
 *   retried reserve or release is a no-op instead of a double count.
 * - The total lives in its own integer key (`…:used`) so the check is O(1); every script that
 *   changes the hash changes the total in the same step, so `used` always equals the hash sum.
 * - The check-and-take, the release and the rebuild are Lua scripts: Redis runs a script with
 *   nothing interleaved, which is what makes them atomic across processes.
 * - Both keys carry the model in a hash tag (`{model}`) and are passed via KEYS, so a script only
 *   touches one slot and runs unchanged on Redis Cluster.
 * - Arithmetic on stored totals goes through INCRBY/DECRBY with the caller's integer strings, not
 *   through Lua numbers, so large totals are never turned into floats.
 * - Nothing expires: a reservation lasts until its batch is finished. If Redis loses the keys,
 *   the reconciler rebuilds them from PostgreSQL with `replace`.
 */
import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

/** A Lua script run by EVALSHA, falling back to EVAL when the server does not have it cached. */
export interface LuaScript {
  readonly name: string;
  readonly lua: string;
  readonly sha: string;
}

function script(name: string, lua: string): LuaScript {
  return { name, lua, sha: createHash('sha1').update(lua).digest('hex') };
}

/**
 * KEYS[1] reservations hash, KEYS[2] used total. ARGV[1] batch id, ARGV[2] tokens, ARGV[3] limit.
 * Returns {ok, alreadyHeld, used}: {1,1,used} if the batch already holds a reservation (unchanged),
 * {0,0,used} if used + tokens > limit (nothing changes), {1,0,newUsed} when newly reserved.
 */
export const RESERVE = script(
  'reserve',
  `
local used = tonumber(redis.call('GET', KEYS[2]) or '0')
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  return {1, 1, used}
end
if used + tonumber(ARGV[2]) > tonumber(ARGV[3]) then
  return {0, 0, used}
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return {1, 0, redis.call('INCRBY', KEYS[2], ARGV[2])}
`,
);

/**
 * KEYS[1] reservations hash, KEYS[2] used total. ARGV[1] batch id.
 * Returns 1 if a reservation was released, 0 if there was none. The total is deleted together with
 * the last reservation, so an idle model leaves no keys behind.
 */
export const RELEASE = script(
  'release',
  `
local tokens = redis.call('HGET', KEYS[1], ARGV[1])
if not tokens then
  return 0
end
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HLEN', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[2])
else
  redis.call('DECRBY', KEYS[2], tokens)
end
return 1
`,
);

/**
 * KEYS[1] reservations hash, KEYS[2] used total. ARGV: batchId1, tokens1, batchId2, tokens2, …
 * Replaces the whole state with exactly these reservations (ids must be distinct). Returns the new total.
 */
export const REPLACE = script(
  'replace',
  `
redis.call('DEL', KEYS[1], KEYS[2])
for i = 1, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  redis.call('INCRBY', KEYS[2], ARGV[i + 1])
end
return tonumber(redis.call('GET', KEYS[2]) or '0')
`,
);

/**
 * KEYS[1] reservations hash, KEYS[2] used total. Returns {used, {batchId, tokens, …}} read together,
 * so the pair is one consistent snapshot.
 */
export const SNAPSHOT = script(
  'snapshot',
  `
return {tonumber(redis.call('GET', KEYS[2]) or '0'), redis.call('HGETALL', KEYS[1])}
`,
);

/** Runs `s` by EVALSHA, loading it with EVAL on NOSCRIPT (first use, or after a server restart). */
export async function runScript(
  redis: Redis | Cluster,
  s: LuaScript,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  try {
    return await redis.evalsha(s.sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
    return await redis.eval(s.lua, keys.length, ...keys, ...args);
  }
}
