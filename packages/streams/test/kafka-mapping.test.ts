import type { KafkaMessage } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { isStreamcellError } from '@streamcell/protocol';
import { checkBrokers } from '../src/kafka-client.ts';
import { chunkRecords, utf8Length } from '../src/kafka-sink.ts';
import { toInboundBatch } from '../src/kafka-source.ts';

/** kafkajs' two message shapes: record batches carry headers, legacy message sets carry a size instead. */
function message(offset: string, headers?: NonNullable<KafkaMessage['headers']>): KafkaMessage {
  const base = { key: Buffer.from('k'), value: null, timestamp: '1764219600000', attributes: 0, offset };
  return headers === undefined ? { ...base, size: 0 } : { ...base, headers };
}

describe('kafkajs batch mapping', () => {
  it('decodes header values as UTF-8 strings, keeps the last of repeated headers, and parses timestamps', () => {
    const batch = toInboundBatch('in', 3, '12', [
      message('10', { a: Buffer.from('é'), b: 'plain', c: [Buffer.from('first'), Buffer.from('last')], d: undefined }),
      message('11'),
    ]);
    expect(batch).toMatchObject({ topic: 'in', partition: 3, highWatermark: '12' });
    expect(batch.messages[0]).toEqual({ topic: 'in', partition: 3, offset: '10', key: Buffer.from('k'), value: null, timestamp: 1764219600000, headers: { a: 'é', b: 'plain', c: 'last' } });
    expect(batch.messages[1]!.headers).toEqual({});
  });

  it('accepts host:port brokers, IPv6 included, and rejects the rest as config_invalid', () => {
    expect(() => checkBrokers(['kafka-0.kafka:9092', '127.0.0.1:39092', '[::1]:9092'])).not.toThrow();
    for (const bad of [[], ['localhost'], ['kafka:port'], ['a b:1'], ['kafka:9092:1']]) {
      let err: unknown;
      try {
        checkBrokers(bad);
      } catch (e) {
        err = e;
      }
      expect(isStreamcellError(err, 'config_invalid'), JSON.stringify(bad)).toBe(true);
    }
  });
});

describe('KafkaSink chunking', () => {
  it('cuts a large send into runs under the byte budget, keeping every topic in order', () => {
    const records = [
      { topic: 'a', messages: Array.from({ length: 10 }, (_, i) => ({ key: 'k', value: 'x'.repeat(100) + String(i) })) },
      { topic: 'b', messages: Array.from({ length: 5 }, (_, i) => ({ key: null, value: Buffer.alloc(200, i), headers: { h: 'v' } })) },
    ];
    const chunks = chunkRecords(records, 600);
    expect(chunks.length).toBeGreaterThan(3);
    for (const c of chunks) {
      const bytes = c.flatMap((t) => t.messages).reduce((n, m) => n + 24 + (m.key?.length ?? 0) + (m.value?.length ?? 0) + (m.headers === undefined ? 0 : 10), 0);
      expect(bytes).toBeLessThanOrEqual(600);
    }
    const flat = (topic: string): unknown[] => chunks.flatMap((c) => c.filter((t) => t.topic === topic).flatMap((t) => t.messages.map((m) => m.value)));
    expect(flat('a')).toEqual(records[0]!.messages.map((m) => m.value));
    expect(flat('b')).toEqual(records[1]!.messages.map((m) => m.value));
    expect(chunkRecords(records, 1_000_000)).toHaveLength(1);
    // Sizes measured before are taken as given, not measured again.
    expect(chunkRecords(records, 600, new Uint32Array(15).fill(600)).map((c) => c.flatMap((t) => t.messages).length)).toEqual(new Array(15).fill(1));
    // A message above the budget travels alone rather than being dropped.
    expect(chunkRecords([{ topic: 'a', messages: [{ key: null, value: 'x'.repeat(50) }, { key: null, value: 'y' }] }], 10).map((c) => c[0]!.messages.length)).toEqual([1, 1]);
  });
});

describe('utf8Length', () => {
  it('counts UTF-8 bytes as Buffer.byteLength does, surrogates (paired and lone) included', () => {
    const pieces = ['a', 'é', '€', '😀', '\ud800', '\udc00', '\u0000', '\u007f', '\u0080', '\u07ff', '\u0800', '\uffff', 'stream-42'];
    let seed = 3;
    for (let i = 0; i < 5000; i++) {
      let s = '';
      const parts = i % 40;
      for (let k = 0; k < parts; k++) {
        seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
        s += pieces[seed % pieces.length];
      }
      expect(utf8Length(s), JSON.stringify(s)).toBe(Buffer.byteLength(s, 'utf8'));
    }
    expect(utf8Length('')).toBe(0);
    expect(utf8Length('😀'.repeat(100))).toBe(400);
  });
});
