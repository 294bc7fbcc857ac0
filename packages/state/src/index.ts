export { readLuaScripts, defineLuaScripts, callLuaScript } from './scripts.ts';
export type { LuaScript } from './scripts.ts';
