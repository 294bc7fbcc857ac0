export { ERROR_CODES, StreamcellError, isStreamcellError } from './errors.ts';
export type { ErrorCode, StreamcellErrorOptions } from './errors.ts';
export { DEAD_LETTER_CODES, DEFAULT_MAX_EVENT_BYTES, MAX_STREAM_ID_BYTES, checkStreamId, decodeEvent, readFeatureValues } from './event.ts';
export type { DeadLetterCode, DecodeOptions, DecodedEvent, Rejection } from './event.ts';
export { ForecastWriter, IDEMPOTENCY_HEADER, encodeForecast, forecastSteps, idempotencyKey } from './forecast.ts';
export type { ForecastMessage, SourceCoordinates } from './forecast.ts';
export { DEAD_LETTER_HEADERS, deadLetter, deadLetterTopic } from './dead-letter.ts';
export type { DeadLetterMessage } from './dead-letter.ts';
export { MAX_NUMBER_JSON_BYTES, float32Json, float32Number, writeFloat32Json, writeNumberJson } from './json-number.ts';
