/**
 * The binary state record kept per (model, stream), little-endian:
 *
 *   bytes  field
 *   0-1    magic "SC"
 *   2      record format version (1)
 *   3      flags (reserved, 0)
 *   4-7    u32 hash of the model name and version that wrote the state
 *   8-23   the guard: u32 hash of the source topic, i32 partition, f64 offset
 *          of the last applied event (the compare-and-set compares these bytes)
 *   24-31  f64 last event time (epoch ms)
 *   32-39  f64 steps taken
 *   40-43  u32 state floats S (h of every layer, then c of every layer for LSTM)
 *   44-47  u32 scoring floats N
 *   48-51  u32 events of scoring history known (0 for a new stream)
 *   52-63  reserved
 *   64-    S float32 state, then N float32 scoring history
 *
 * The scoring history is what the worker needs to score forecasts when the
 * actual values arrive (the forecasts still pending and the last actuals);
 * its layout belongs to the worker, the codec only carries it.
 */

/** Bytes before the floats. */
export const RECORD_HEADER_BYTES = 64;
/** Where the compare-and-set guard starts, and its length. */
export const GUARD_OFFSET = 8;
export const GUARD_BYTES = 16;

const MAGIC0 = 0x53; // 'S'
const MAGIC1 = 0x43; // 'C'
const FORMAT_VERSION = 1;

/** A stream's recurrent state as stored. */
export interface StateRecord {
  /** Hash of model name and version (see {@link modelVersionHash}); a mismatch resets the state. */
  modelHash: number;
  topicHash: number;
  partition: number;
  /** Offset of the last applied event; offsets stay exact below 2^53. */
  offset: number;
  lastEventTs: number;
  steps: number;
  /** [S] h of every layer, then c of every layer for LSTM. */
  state: Float32Array;
  /** [N] pending forecasts and recent actuals, laid out by the worker. */
  scoring: Float32Array;
  /** How many past events the scoring history covers. */
  historyKnown: number;
}

/** FNV-1a over UTF-8: small, stable across processes and languages. */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The hash a record carries for the model that wrote it. */
export function modelVersionHash(name: string, version: string): number {
  return fnv1a32(`${name}\u0000${version}`);
}

/** The 16 guard bytes for an applied event's coordinates. */
export function encodeGuard(topic: string, partition: number, offset: number): Buffer {
  const b = Buffer.alloc(GUARD_BYTES);
  b.writeUInt32LE(fnv1a32(topic), 0);
  b.writeInt32LE(partition, 4);
  b.writeDoubleLE(offset, 8);
  return b;
}

/** Serialises a record. */
export function encodeRecord(r: StateRecord): Buffer {
  const floats = r.state.length + r.scoring.length;
  // Not zero-filled (a worker writes one per stream per batch): every byte is written below.
  const b = Buffer.allocUnsafe(RECORD_HEADER_BYTES + 4 * floats);
  b.fill(0, 0, RECORD_HEADER_BYTES);
  b[0] = MAGIC0;
  b[1] = MAGIC1;
  b[2] = FORMAT_VERSION;
  b.writeUInt32LE(r.modelHash >>> 0, 4);
  b.writeUInt32LE(r.topicHash >>> 0, 8);
  b.writeInt32LE(r.partition, 12);
  b.writeDoubleLE(r.offset, 16);
  b.writeDoubleLE(r.lastEventTs, 24);
  b.writeDoubleLE(r.steps, 32);
  b.writeUInt32LE(r.state.length, 40);
  b.writeUInt32LE(r.scoring.length, 44);
  b.writeUInt32LE(r.historyKnown, 48);
  if ((b.byteOffset + RECORD_HEADER_BYTES) % 4 === 0) {
    const f = new Float32Array(b.buffer, b.byteOffset + RECORD_HEADER_BYTES, floats);
    f.set(r.state, 0);
    f.set(r.scoring, r.state.length);
  } else {
    // Node's pool hands out 8-byte-aligned slices; this is only in case that ever changes.
    const f = new Float32Array(floats);
    f.set(r.state, 0);
    f.set(r.scoring, r.state.length);
    b.set(new Uint8Array(f.buffer), RECORD_HEADER_BYTES);
  }
  return b;
}

/**
 * Parses a record, or returns a reason string when the bytes are not one
 * (another program's key, a truncated write, a future format): the caller
 * then treats the stream as new, counting the reset.
 *
 * `into`: arrays to read the state and scoring floats into when the record's
 * lengths equal theirs (the record's `state` and `scoring` are then these
 * very arrays), saving a fresh array per record on a worker's hot path.
 * With other lengths the record gets arrays of its own and `into` is left
 * untouched.
 */
export function decodeRecord(b: Uint8Array, into?: { readonly state: Float32Array; readonly scoring: Float32Array }): StateRecord | string {
  if (b.length < RECORD_HEADER_BYTES) return `record is ${b.length} bytes; the header alone is ${RECORD_HEADER_BYTES}`;
  if (b[0] !== MAGIC0 || b[1] !== MAGIC1) return 'not a streamcell state record';
  if (b[2] !== FORMAT_VERSION) return `state record format ${b[2]} is not supported`;
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  const s = v.getUint32(40, true);
  const n = v.getUint32(44, true);
  const floats = s + n;
  if (b.length !== RECORD_HEADER_BYTES + 4 * floats) return `record is ${b.length} bytes; its header describes ${RECORD_HEADER_BYTES + 4 * floats}`;
  // Copy out: the source buffer may be pooled or unaligned.
  let state: Float32Array;
  let scoring: Float32Array;
  if (into !== undefined && into.state.length === s && into.scoring.length === n) {
    state = into.state;
    scoring = into.scoring;
    new Uint8Array(state.buffer, state.byteOffset, 4 * s).set(b.subarray(RECORD_HEADER_BYTES, RECORD_HEADER_BYTES + 4 * s));
    new Uint8Array(scoring.buffer, scoring.byteOffset, 4 * n).set(b.subarray(RECORD_HEADER_BYTES + 4 * s));
  } else {
    const all = new Float32Array(floats);
    new Uint8Array(all.buffer).set(b.subarray(RECORD_HEADER_BYTES));
    state = all.subarray(0, s);
    scoring = all.subarray(s);
  }
  return {
    modelHash: v.getUint32(4, true),
    topicHash: v.getUint32(8, true),
    partition: v.getInt32(12, true),
    offset: v.getFloat64(16, true),
    lastEventTs: v.getFloat64(24, true),
    steps: v.getFloat64(32, true),
    state,
    scoring,
    historyKnown: v.getUint32(48, true),
  };
}

/** The guard bytes of a stored record (what a compare-and-set must find). */
export function guardOf(stored: Uint8Array): Buffer {
  return Buffer.from(stored.subarray(GUARD_OFFSET, GUARD_OFFSET + GUARD_BYTES));
}
