/**
 * Dead letters go to `<events topic>.dlq`: the original key and bytes
 * unchanged as the Kafka key and value, so that they can be inspected and
 * replayed as they were, and why they were refused in headers.
 *
 * One exception keeps a partition from stalling: a value longer than
 * `maxValueBytes` (only `too_large` events are) is cut to that length, and
 * headers say so and give the original length. The whole value plus our
 * headers could exceed the broker's message limit that the event itself just
 * fit under, and a dead letter Kafka refuses would block the partition.
 */
import type { DeadLetterCode } from './event.ts';
import type { SourceCoordinates } from './forecast.ts';

/** Header names on a dead letter. */
export const DEAD_LETTER_HEADERS = {
  code: 'streamcell-dlq-code',
  message: 'streamcell-dlq-message',
  topic: 'streamcell-source-topic',
  partition: 'streamcell-source-partition',
  offset: 'streamcell-source-offset',
  /** Present (the original length in bytes) when the value was cut. */
  originalBytes: 'streamcell-dlq-original-bytes',
} as const;

/** A dead letter ready to produce (the shape kafkajs' `send` accepts). */
export interface DeadLetterMessage {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Record<string, string>;
}

/** The dead-letter topic for an events topic. */
export function deadLetterTopic(eventsTopic: string): string {
  return `${eventsTopic}.dlq`;
}

/** Builds the dead letter for a refused event. */
export function deadLetter(
  original: { readonly key: Buffer | null; readonly value: Buffer | null },
  source: SourceCoordinates,
  code: DeadLetterCode,
  message: string,
  maxValueBytes: number = Number.POSITIVE_INFINITY,
): DeadLetterMessage {
  const value = original.value;
  const cut = value !== null && value.length > maxValueBytes;
  return {
    key: original.key,
    value: cut ? value.subarray(0, maxValueBytes) : value,
    headers: {
      ...(cut ? { [DEAD_LETTER_HEADERS.originalBytes]: String(value.length) } : {}),
      [DEAD_LETTER_HEADERS.code]: code,
      // Headers are bytes on the wire, but keep them short and printable.
      [DEAD_LETTER_HEADERS.message]: message.slice(0, 512),
      [DEAD_LETTER_HEADERS.topic]: source.topic,
      [DEAD_LETTER_HEADERS.partition]: String(source.partition),
      [DEAD_LETTER_HEADERS.offset]: source.offset,
    },
  };
}
