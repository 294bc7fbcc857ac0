/**
 * Dead letters go to `<events topic>.dlq`: the original key and bytes
 * unchanged as the Kafka key and value, so that they can be inspected and
 * replayed as they were, and why they were refused in headers.
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
): DeadLetterMessage {
  return {
    key: original.key,
    value: original.value,
    headers: {
      [DEAD_LETTER_HEADERS.code]: code,
      // Headers are bytes on the wire, but keep them short and printable.
      [DEAD_LETTER_HEADERS.message]: message.slice(0, 512),
      [DEAD_LETTER_HEADERS.topic]: source.topic,
      [DEAD_LETTER_HEADERS.partition]: String(source.partition),
      [DEAD_LETTER_HEADERS.offset]: source.offset,
    },
  };
}
