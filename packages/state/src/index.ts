export { readLuaScripts, defineLuaScripts, callLuaScript } from './scripts.ts';
export type { LuaScript } from './scripts.ts';
export {
  GUARD_BYTES,
  GUARD_OFFSET,
  RECORD_HEADER_BYTES,
  decodeRecord,
  encodeGuard,
  encodeRecord,
  fnv1a32,
  guardOf,
  modelVersionHash,
} from './record.ts';
export type { StateRecord } from './record.ts';
export { SAVE_RESULT, stateKey, toSaveResult } from './store.ts';
export type { SaveResult, StateStore, StateWrite } from './store.ts';
export { RedisStateStore } from './redis-store.ts';
export { MemoryStateStore } from './memory-store.ts';
export { errorSums, latestScoring, scoreAndShift, scoringLayout } from './scoring.ts';
export type { ErrorSums, LatestScoring, ScoringLayout } from './scoring.ts';
