/**
 * Every error streamcell raises carries a code from this one list. Dead letters
 * carry the same codes, so operators can grep one vocabulary. Classify errors
 * by `code`, never by matching message text.
 */
export const ERROR_CODES = [
  // model artifact
  'model_manifest_invalid',
  'model_weights_invalid',
  'model_io',
  // events (dead-letter reason codes)
  'malformed_json',
  'schema',
  'wrong_dimension',
  'unknown_feature',
  'non_finite',
  'stream_id_invalid',
  'unknown_model',
  'out_of_order',
  'too_large',
  // input files given to the CLI
  'input_invalid',
  // HTTP requests to the gateway (beside the event codes above)
  'bad_request',
  'unauthorized',
  'not_found',
  'overloaded',
  // configuration and usage
  'config_invalid',
  'usage',
  // infrastructure
  'kafka_unavailable',
  'redis_unavailable',
  'state_conflict',
  'internal',
] as const;

/** One of {@link ERROR_CODES}. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Options accepted by {@link StreamcellError}. */
export interface StreamcellErrorOptions {
  /** True when retrying the same operation may succeed (network, conflicts). */
  retriable?: boolean;
  cause?: unknown;
}

/** Base class of every error streamcell throws on purpose. */
export class StreamcellError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;

  constructor(code: ErrorCode, message: string, options: StreamcellErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StreamcellError';
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}

/** True when `err` is a {@link StreamcellError}, optionally of the given code. */
export function isStreamcellError(err: unknown, code?: ErrorCode): err is StreamcellError {
  return err instanceof StreamcellError && (code === undefined || err.code === code);
}
