import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { StreamcellError } from '@streamcell/protocol';

/** A Lua script read from a file named `verbNoun-<numKeys>.lua` (`-n`: the caller passes the number of keys first). */
export interface LuaScript {
  /** `verbNoun` from the file name. */
  readonly verb: string;
  /** Name the script is registered under on a client: carries the version. */
  readonly command: string;
  /** Null for `-n` scripts: each call passes its number of keys as the first argument. */
  readonly numberOfKeys: number | null;
  readonly lua: string;
}

const FILE_NAME = /^([a-z][A-Za-z0-9]*)-(\d+|n)\.lua$/;

/** Commands of `-n` scripts: ioredis takes their number of keys as the first argument. */
const KEY_COUNT_FIRST = new Set<string>();

/**
 * Reads every `verbNoun-<numKeys>.lua` in `dir`. The registered command name
 * carries `version`, so that during a rolling deploy old and new workers never
 * run each other's scripts through a shared EVALSHA cache.
 */
export function readLuaScripts(dir: string, version: string): LuaScript[] {
  const suffix = version.replace(/[^A-Za-z0-9]/g, '_');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.lua'))
    .sort()
    .map((file) => {
      const m = FILE_NAME.exec(file);
      if (!m) {
        throw new StreamcellError('internal', `${join(dir, file)}: Lua script names must read verbNoun-<numKeys>.lua or verbNoun-n.lua`);
      }
      const verb = m[1]!;
      return {
        verb,
        command: `${verb}_v${suffix}`,
        numberOfKeys: m[2] === 'n' ? null : Number(m[2]),
        lua: readFileSync(join(dir, file), 'utf8'),
      };
    });
}

/**
 * Registers scripts on a client with ioredis `defineCommand` (EVALSHA with an
 * EVAL fallback on NOSCRIPT). Returns a lookup from verb to command name.
 */
export function defineLuaScripts(redis: Redis, scripts: readonly LuaScript[]): Map<string, string> {
  const names = new Map<string, string>();
  for (const s of scripts) {
    if (s.numberOfKeys === null) KEY_COUNT_FIRST.add(s.command);
    redis.defineCommand(s.command, s.numberOfKeys === null ? { lua: s.lua } : { numberOfKeys: s.numberOfKeys, lua: s.lua });
    names.set(s.verb, s.command);
  }
  return names;
}

/**
 * Calls a script registered by {@link defineLuaScripts}. Typed wrappers in the
 * stores call this rather than reaching into the client by name.
 */
export async function callLuaScript(
  redis: Redis,
  command: string,
  keys: readonly string[],
  args: readonly (string | number | Buffer)[],
): Promise<unknown> {
  const fn = (redis as unknown as Record<string, unknown>)[command];
  if (typeof fn !== 'function') {
    throw new StreamcellError('internal', `Lua command ${command} is not defined on this Redis client`);
  }
  const call = fn as (...a: unknown[]) => Promise<unknown>;
  return KEY_COUNT_FIRST.has(command) ? call.call(redis, keys.length, ...keys, ...args) : call.call(redis, ...keys, ...args);
}
