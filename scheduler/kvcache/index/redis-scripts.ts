/**
 * Lua scripts for the Redis/Valkey index. Each runs atomically on the server, so a check ("is the
 * pod still on this key?") and the delete it guards cannot interleave with another EPP replica's
 * writes. Every key a script touches is passed in KEYS (the Redis scripting contract).
 */
import { createHash } from 'node:crypto';

export interface LuaScript {
  readonly source: string;
  readonly sha1: string;
}

function script(source: string): LuaScript {
  return { source, sha1: createHash('sha1').update(source).digest('hex') };
}

/** True when a field belongs to the pod (prefix `<pod>@`) and is a confirmed, not speculative, entry. */
const CONFIRMED_OF_POD = `
local function confirmedOf(field, prefix)
  return string.sub(field, 1, #prefix) == prefix and not string.find(field, '[speculative]', 1, true)
end
`;

/**
 * Evict by engine key. KEYS[1] = the pod's engine ZSET, KEYS[2..] = its request-key hashes;
 * ARGV[1] = `<pod>@`, ARGV[2..] = fields to remove. Removes the fields (Redis deletes a hash whose
 * last field goes), then deletes the engine mapping unless the pod still holds a confirmed entry
 * on one of the keys (e.g. a CPU copy after the GPU copy was evicted). Returns 1 if kept.
 */
export const EVICT_BY_ENGINE_KEY = script(`${CONFIRMED_OF_POD}
local prefix = ARGV[1]
local held = false
for i = 2, #KEYS do
  for j = 2, #ARGV do redis.call('HDEL', KEYS[i], ARGV[j]) end
  if not held then
    for _, field in ipairs(redis.call('HKEYS', KEYS[i])) do
      if confirmedOf(field, prefix) then held = true break end
    end
  end
end
if held then return 1 end
redis.call('DEL', KEYS[1])
return 0
`);

/**
 * Clear one pod from a batch of request keys. KEYS = hashes found by SCAN; ARGV[1] = `<pod>@`.
 * Keys that stopped being hashes since the SCAN are skipped. Returns the number of fields removed.
 */
export const CLEAR_POD_FROM_KEYS = script(`
local prefix = ARGV[1]
local removed = 0
for i = 1, #KEYS do
  if redis.call('TYPE', KEYS[i]).ok == 'hash' then
    for _, field in ipairs(redis.call('HKEYS', KEYS[i])) do
      if string.sub(field, 1, #prefix) == prefix then
        redis.call('HDEL', KEYS[i], field)
        removed = removed + 1
      end
    end
  end
end
return removed
`);
