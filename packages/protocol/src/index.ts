export { ERROR_CODES, StreamcellError, isStreamcellError } from './errors.ts';
export type { ErrorCode, StreamcellErrorOptions } from './errors.ts';
