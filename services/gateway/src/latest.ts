/**
 * The latest forecast of a stream, read from the state record the worker
 * saves in Redis: the scoring history in it holds the forecast made at the
 * stream's last event and that event's actual values, and the record its
 * event time and step count. The key's remaining TTL says when it was saved.
 */
import type { Redis } from 'ioredis';
import { StreamcellError, float32Number } from '@streamcell/protocol';
import { decodeRecord, latestScoring, modelVersionHash, scoringLayout, stateKey } from '@streamcell/state';
import type { GatewayModel, GatewayModels } from './models.ts';

/** One stored state as read: the record's bytes and the key's remaining TTL. */
export interface StoredState {
  readonly value: Buffer | null;
  /** Milliseconds left, or -1 when the key has no TTL (or is gone). */
  readonly ttlMs: number;
}

/** Reads state records; one round trip for any number of keys. */
export interface StateReader {
  read(keys: readonly string[]): Promise<StoredState[]>;
  close(): Promise<void>;
}

/** A {@link StateReader} on Redis: GET and PTTL of every key in one pipeline. */
export class RedisStateReader implements StateReader {
  readonly #redis: Redis;

  constructor(redis: Redis) {
    this.#redis = redis;
  }

  async read(keys: readonly string[]): Promise<StoredState[]> {
    if (keys.length === 0) return [];
    const pipe = this.#redis.pipeline();
    for (const k of keys) pipe.getBuffer(k).pttl(k);
    const replies = await pipe.exec();
    if (replies === null) throw new StreamcellError('redis_unavailable', 'Redis pipeline was discarded', { retriable: true });
    const out: StoredState[] = [];
    for (let i = 0; i < keys.length; i++) {
      const [getErr, value] = replies[2 * i]!;
      const [ttlErr, ttl] = replies[2 * i + 1]!;
      const err = getErr ?? ttlErr;
      if (err) throw new StreamcellError('redis_unavailable', `Redis read failed: ${err.message}`, { retriable: true, cause: err });
      out.push({ value: (value as Buffer | null) ?? null, ttlMs: typeof ttl === 'number' && ttl >= 0 ? ttl : -1 });
    }
    return out;
  }

  async close(): Promise<void> {
    await this.#redis.quit();
  }
}

/** The answer of `GET /v1/streams/:id/forecast`. */
export interface LatestForecast {
  readonly stream: string;
  readonly model: { readonly name: string; readonly version: string };
  /** Event time of the stream's last applied event, epoch ms. */
  readonly ts: number;
  /** Events stepped since the state was last (re)started. */
  readonly steps: number;
  /** `forecast[k]` is k+1 steps after `ts`, by target name. */
  readonly forecast: Record<string, number>[];
  /** The last event's actual target values. */
  readonly actual: Record<string, number>;
  /** Where the last applied event was read from. */
  readonly source: { readonly partition: number; readonly offset: number };
  /** Milliseconds from the last event time to now. */
  readonly eventAgeMs: number;
  /** Milliseconds since the worker saved the state (from the key's TTL); null when it has none. */
  readonly savedAgoMs: number | null;
}

/** Why no forecast could be given. */
export interface NoForecast {
  readonly reason: string;
}

/**
 * Looks the stream up under `modelName`, or under every known model when it
 * is undefined, and returns the newest usable state. A record written by
 * another version of the model is not usable: the worker resets it at the
 * stream's next event.
 */
export async function latestForecast(
  reader: StateReader,
  stream: string,
  models: GatewayModels,
  options: { readonly keyPrefix: string; readonly stateTtlMs: number; readonly modelName?: string | undefined; readonly now?: number },
): Promise<LatestForecast | NoForecast> {
  const candidates: GatewayModel[] = options.modelName === undefined ? [...models.values()] : [models.get(options.modelName)].filter((m) => m !== undefined);
  if (candidates.length === 0) return { reason: options.modelName === undefined ? 'no model is loaded' : `model "${options.modelName.slice(0, 64)}" is not loaded` };
  const stored = await reader.read(candidates.map((m) => stateKey(options.keyPrefix, m.name, stream)));
  const now = options.now ?? Date.now();
  let best: LatestForecast | undefined;
  let stale = 0;
  for (let i = 0; i < candidates.length; i++) {
    const m = candidates[i]!;
    const s = stored[i]!;
    if (s.value === null) continue;
    const rec = decodeRecord(s.value);
    if (typeof rec === 'string' || rec.modelHash !== modelVersionHash(m.name, m.version)) {
      stale += 1;
      continue;
    }
    const { horizon, targets } = m.manifest;
    const latest = latestScoring(scoringLayout(horizon, targets.length), rec.scoring, rec.historyKnown);
    if (!latest) {
      stale += 1;
      continue;
    }
    if (best !== undefined && best.ts >= rec.lastEventTs) continue;
    const forecast: Record<string, number>[] = [];
    for (let k = 0; k < horizon; k++) forecast.push(Object.fromEntries(targets.map((t, j) => [t, float32Number(latest.forecast[k * targets.length + j]!)])));
    best = {
      stream,
      model: { name: m.name, version: m.version },
      ts: rec.lastEventTs,
      steps: rec.steps,
      forecast,
      actual: Object.fromEntries(targets.map((t, j) => [t, float32Number(latest.actual[j]!)])),
      source: { partition: rec.partition, offset: rec.offset },
      eventAgeMs: Math.max(0, now - rec.lastEventTs),
      savedAgoMs: s.ttlMs < 0 ? null : Math.max(0, options.stateTtlMs - s.ttlMs),
    };
  }
  if (best) return best;
  return { reason: stale > 0 ? 'the stream\'s state was written by another model version; its next event starts it afresh' : 'no state for this stream (never seen, ended, or expired)' };
}
