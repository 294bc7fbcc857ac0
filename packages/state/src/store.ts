import { StreamcellError } from '@streamcell/protocol';

/** One compare-and-set write of a state record. */
export interface StateWrite {
  readonly key: string;
  /** The guard read at load time (see record.ts), or null when the key was absent. */
  readonly expectGuard: Buffer | null;
  /** The new record, or null to delete the state. */
  readonly value: Buffer | null;
}

/** Outcome of one {@link StateWrite}. */
export const SAVE_RESULT = { written: 0, conflict: 1 } as const;
export type SaveResult = (typeof SAVE_RESULT)[keyof typeof SAVE_RESULT];

/**
 * Where per-stream recurrent state lives. Each call is one round trip to the
 * backing store, whatever the number of keys: the worker loads a whole batch
 * with one `load` and saves it with one `save`.
 */
export interface StateStore {
  /** Raw records by key, null where absent. */
  load(keys: readonly string[]): Promise<(Buffer | null)[]>;
  /** Compare-and-set writes; results in the order given. */
  save(writes: readonly StateWrite[], ttlMs: number): Promise<SaveResult[]>;
  close(): Promise<void>;
}

/** Maps a script's numeric reply to a {@link SaveResult}, failing loudly on anything else. */
export function toSaveResult(reply: unknown, key: string): SaveResult {
  if (reply === SAVE_RESULT.written || reply === SAVE_RESULT.conflict) return reply;
  throw new StreamcellError('internal', `saveStates returned ${String(reply)} for ${key}`);
}

/**
 * The Redis key of a stream's state under a model. The worker writes it and
 * the gateway reads it, so both build it here.
 */
export function stateKey(prefix: string, model: string, stream: string): string {
  return `${prefix}state:${model}:${stream}`;
}
