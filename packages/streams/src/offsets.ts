import { StreamcellError } from '@streamcell/protocol';

/*
 * Kafka offsets are 64-bit; kafkajs hands them over as decimal strings. All
 * arithmetic on them goes through BigInt so that nothing rounds past 2^53.
 */

const DECIMAL = /^(0|[1-9][0-9]*)$/;

/** Parses an offset string, rejecting anything that is not a plain non-negative decimal. */
export function parseOffset(offset: string, what = 'offset'): bigint {
  if (typeof offset !== 'string' || !DECIMAL.test(offset)) {
    throw new StreamcellError('internal', `${what} must be a non-negative decimal string, got ${JSON.stringify(offset)}`);
  }
  return BigInt(offset);
}

/** `offset + n` as a canonical decimal string. */
export function offsetPlus(offset: string, n: number): string {
  return (parseOffset(offset) + BigInt(n)).toString();
}

/** Lag in messages, clamped at 0 and returned as a number (a lag above 2^53 is not a real case). */
export function lagBetween(highWatermark: string, committed: string): number {
  const lag = parseOffset(highWatermark, 'high watermark') - parseOffset(committed, 'committed offset');
  return lag > 0n ? Number(lag) : 0;
}
