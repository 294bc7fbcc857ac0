/**
 * Packed messages: many messages for one topic, written ahead of time in the
 * layout a Kafka v2 record gives them, so that sending them creates no object
 * per message. The worker's step thread writes its forecasts this way
 * (key, JSON value, idempotency header) and the worker's thread hands the
 * bytes on as they are: KafkaSink passes them to kafkajs (the local patch's
 * producer/packedMessages.js), which splits them by partition with the key
 * hashes and copies each message's bytes into the record batch; the in-memory
 * log and test sinks read them back with {@link unpackMessages}.
 *
 * Message i is bytes[bounds[i], bounds[i + 1]): its key, its value and its
 * headers exactly as they follow a record's offset delta (Kafka's record
 * format, v2):
 *
 *   keyLength varint | key | valueLength varint | value
 *   | headerCount varint | (headerKeyLength varint | headerKey | headerValueLength varint | headerValue)*
 *
 * with varints zigzag-encoded and -1 for a null key or value. keyHashes[i] is
 * the murmur2 hash of its key's bytes, from which Kafka's default partitioner
 * picks the partition: (hash & 0x7fffffff) % partitions.
 */
import { murmur2 } from './murmur2.ts';
import type { OutboundMessage, OutboundRecords } from './types.ts';

/** Messages for one topic, packed; see the file comment. */
export interface PackedMessages {
  readonly topic: string;
  readonly bytes: Uint8Array;
  /** Message i spans bytes[bounds[i], bounds[i + 1]): one more entry than there are messages. */
  readonly bounds: Uint32Array;
  /** murmur2 of each message's key bytes (see {@link murmur2}). */
  readonly keyHashes: Int32Array;
}

/** What a {@link PackedMessageWriter} wrote: packed messages without their topic. */
export type PackedBytes = Omit<PackedMessages, 'topic'>;

/** True for packed messages, false for messages as objects. */
export function isPacked<T extends { readonly topic: string }>(records: T | PackedMessages): records is PackedMessages {
  return (records as Partial<PackedMessages>).bounds !== undefined;
}

/** How many messages `records` hold, packed or as objects. */
export function messageCount(records: PackedBytes | Pick<OutboundRecords, 'messages'>): number {
  return 'keyHashes' in records ? records.keyHashes.length : records.messages.length;
}

/** A header of packed messages, prepared by {@link PackedMessageWriter.header}. */
export interface PackedHeader {
  /** The header count (1), the key's length and the key. */
  readonly head: Uint8Array;
  readonly valuePrefix: Uint8Array;
}

/** Room first set aside for a value's length: 2 bytes, the varint of lengths from 64 to 8191. A value of another length is moved once written. */
const VALUE_LENGTH_ROOM = 2;
/** Most bytes of a varint of a 32-bit length. */
const MAX_VARINT_BYTES = 5;

/**
 * Writes packed messages one after another: {@link beginValue} writes a
 * message's key and says where its value goes; the caller writes the value
 * into {@link buffer} there; {@link endMessage} records where it ended and
 * writes its header. Room for a fixed number of messages, given up front.
 */
export class PackedMessageWriter {
  #bytes: Buffer;
  #used = 0;
  readonly #bounds: Uint32Array;
  readonly #hashes: Int32Array;
  #count = 0;
  /** Where the value of the message being written starts (-1: none begun), and the room given to it. */
  #valueAt = -1;
  #valueRoom = 0;

  /** Room for `messages` messages; `bytesPerMessage` sizes the first buffer (it grows as needed). */
  constructor(messages: number, bytesPerMessage = 256) {
    if (!Number.isInteger(messages) || messages < 0) throw new RangeError(`message count must be a non-negative integer, got ${messages}`);
    this.#bytes = Buffer.allocUnsafeSlow(Math.max(64, messages * bytesPerMessage));
    this.#bounds = new Uint32Array(messages + 1);
    this.#hashes = new Int32Array(messages);
  }

  /** The buffer values are written into; it may be replaced by {@link beginValue} and {@link endMessage}. */
  get buffer(): Buffer {
    return this.#bytes;
  }

  /**
   * Starts a message: writes `key` (UTF-8) and returns where in
   * {@link buffer} its value goes, with room for `maxValueBytes`.
   */
  beginValue(key: string, maxValueBytes: number): number {
    if (this.#valueAt >= 0) throw new Error('PackedMessageWriter: the message begun before has not ended');
    if (this.#count === this.#hashes.length) throw new RangeError(`PackedMessageWriter has room for ${this.#hashes.length} messages`);
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    this.#reserve(2 * MAX_VARINT_BYTES + 3 * key.length + maxValueBytes);
    const out = this.#bytes;
    const lengthAt = this.#used;
    // The key's length is written once its bytes are: 1 byte for keys of up to 63 bytes, else moved.
    const keyAt = lengthAt + 1;
    const keyEnd = putUtf8(out, keyAt, key);
    const keyBytes = keyEnd - keyAt;
    const at = moveAfterLength(out, lengthAt, 1, keyAt, keyEnd, keyBytes);
    this.#hashes[this.#count] = murmur2(out, keyBytes, at - keyBytes);
    this.#valueAt = at + VALUE_LENGTH_ROOM;
    this.#valueRoom = maxValueBytes;
    return this.#valueAt;
  }

  /**
   * Ends the message begun last: its value is buffer[value start,
   * `valueEnd`). With `header` (see {@link PackedMessageWriter.header}), it
   * has that one header, its value the header's value prefix followed by
   * `headerValueTail`; without, none.
   */
  endMessage(valueEnd: number, header?: PackedHeader, headerValueTail = ''): void {
    const valueAt = this.#valueAt;
    if (valueAt < 0) throw new Error('PackedMessageWriter: no message begun');
    if (valueEnd < valueAt || valueEnd - valueAt > this.#valueRoom) throw new RangeError(`value end ${valueEnd} is outside the ${this.#valueRoom} bytes given from ${valueAt}`);
    this.#valueAt = -1;
    let at = moveAfterLength(this.#bytes, valueAt - VALUE_LENGTH_ROOM, VALUE_LENGTH_ROOM, valueAt, valueEnd, valueEnd - valueAt);
    this.#used = at;
    if (header === undefined) {
      this.#reserve(1);
      at = putVarInt(this.#bytes, at, 0);
    } else {
      const { head, valuePrefix } = header;
      this.#reserve(head.length + MAX_VARINT_BYTES + valuePrefix.length + 3 * headerValueTail.length);
      const out = this.#bytes;
      at = putBytes(out, at, head);
      // The value's length is written once its bytes are: 1 byte for values of up to 63 bytes, else moved.
      const from = at + 1;
      const to = putUtf8(out, putBytes(out, from, valuePrefix), headerValueTail);
      at = moveAfterLength(out, at, 1, from, to, to - from);
    }
    this.#used = at;
    this.#count += 1;
    this.#bounds[this.#count] = at;
  }

  /**
   * A header for {@link endMessage}, its bytes prepared once: key `key`,
   * value `valuePrefix` followed by each message's own tail.
   */
  static header(key: string, valuePrefix = ''): PackedHeader {
    const keyBytes = Buffer.from(key, 'utf8');
    const head = Buffer.alloc(1 + varIntSize(keyBytes.length) + keyBytes.length);
    keyBytes.copy(head, putVarInt(head, putVarInt(head, 0, 1), keyBytes.length));
    return { head, valuePrefix: Buffer.from(valuePrefix, 'utf8') };
  }

  /** The messages written, as packed bytes (the writer is done with them). */
  finish(): PackedBytes {
    if (this.#valueAt >= 0) throw new Error('PackedMessageWriter: the message begun last has not ended');
    const n = this.#count;
    return {
      bytes: this.#bytes.subarray(0, this.#used),
      bounds: n + 1 === this.#bounds.length ? this.#bounds : this.#bounds.slice(0, n + 1),
      keyHashes: n === this.#hashes.length ? this.#hashes : this.#hashes.slice(0, n),
    };
  }

  /** Makes room for `n` more bytes after what is written, keeping it. */
  #reserve(n: number): void {
    if (this.#used + n <= this.#bytes.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(this.#used + n, 2 * this.#bytes.length));
    this.#bytes.copy(grown, 0, 0, this.#used);
    this.#bytes = grown;
  }
}

/**
 * Writes the varint of `length` at `lengthAt`, where `room` bytes were set
 * aside before the bytes [from, to) that it measures, moving them when the
 * varint takes more or less room; returns where they end.
 */
function moveAfterLength(out: Buffer, lengthAt: number, room: number, from: number, to: number, length: number): number {
  const size = varIntSize(length);
  if (size !== room) {
    out.copyWithin(lengthAt + size, from, to);
    from = lengthAt + size;
  }
  putVarInt(out, lengthAt, length);
  return from + length;
}

/** Zigzag varint bytes of a non-negative `n`. */
function varIntSize(n: number): number {
  let z = 2 * n;
  let size = 1;
  while (z >= 128) {
    z = Math.floor(z / 128);
    size += 1;
  }
  return size;
}

/** Writes the zigzag varint of a non-negative `n` (below 2^31) at `at`; returns the end. */
function putVarInt(out: Uint8Array, at: number, n: number): number {
  let z = 2 * n;
  while (z >= 128) {
    out[at++] = (z & 0x7f) | 0x80;
    z = Math.floor(z / 128);
  }
  out[at++] = z;
  return at;
}

/** Copies `bytes` to `out` at `at`; returns the end. A few bytes in a loop, more by a native copy. */
function putBytes(out: Uint8Array, at: number, bytes: Uint8Array): number {
  const n = bytes.length;
  if (n > 16) out.set(bytes, at);
  else for (let i = 0; i < n; i++) out[at + i] = bytes[i]!;
  return at + n;
}

/** Writes `s` as UTF-8 at `at` (room for 3 x its length); returns the end. */
function putUtf8(out: Buffer, at: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return at + i + out.write(s.slice(i), at + i, 'utf8');
    out[at + i] = c;
  }
  return at + s.length;
}

/** Reads a zigzag varint at `at`: [value, end]. */
function readVarInt(bytes: Uint8Array, at: number): [number, number] {
  let z = 0;
  let scale = 1;
  for (;;) {
    if (at >= bytes.length) throw new RangeError('packed messages end inside a varint');
    const b = bytes[at++]!;
    z += (b & 0x7f) * scale;
    if (b < 0x80) break;
    scale *= 128;
    if (scale > 2 ** 35) throw new RangeError('packed messages hold a varint longer than 5 bytes');
  }
  // Zigzag: even values are non-negative.
  return [z % 2 === 0 ? z / 2 : -(z + 1) / 2, at];
}

/** Reads a varint-length field at `at` (null for -1): [bytes, end], the bytes a view of `bytes`. */
function readField(bytes: Uint8Array, at: number, end: number): [Buffer | null, number] {
  const [length, from] = readVarInt(bytes, at);
  if (length === -1) return [null, from];
  if (length < 0 || from + length > end) throw new RangeError(`packed message field of ${length} bytes runs past its message`);
  return [Buffer.from(bytes.buffer, bytes.byteOffset + from, length), from + length];
}

/**
 * The messages of `packed` as objects: key decoded as UTF-8 text (null when
 * null), value as a view of the packed bytes, headers as UTF-8 text. For
 * sinks that store messages (the in-memory log) and for tests.
 */
export function unpackMessages(packed: PackedBytes): OutboundMessage[] {
  const { bytes, bounds } = packed;
  const out: OutboundMessage[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const end = bounds[i + 1]!;
    const [key, afterKey] = readField(bytes, bounds[i]!, end);
    const [value, afterValue] = readField(bytes, afterKey, end);
    const [count, afterCount] = readVarInt(bytes, afterValue);
    let at = afterCount;
    const headers: Record<string, string> = {};
    for (let h = 0; h < count; h++) {
      const [k, afterK] = readField(bytes, at, end);
      const [v, afterV] = readField(bytes, afterK, end);
      if (k === null) throw new RangeError('packed message header without a key');
      headers[k.toString('utf8')] = v === null ? '' : v.toString('utf8');
      at = afterV;
    }
    if (at !== end) throw new RangeError(`packed message ${i} has ${end - at} bytes past its headers`);
    const text = key === null ? null : key.toString('utf8');
    out.push(count === 0 ? { key: text, value } : { key: text, value, headers });
  }
  return out;
}
