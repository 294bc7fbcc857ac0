/**
 * Raised by the trainer for options or data it cannot train on. `code` uses
 * the vocabulary of @streamcell/protocol's ERROR_CODES (this package stays
 * free of dependencies), so the CLI can rethrow it as
 * `new StreamcellError(err.code, err.message)`: `config_invalid` for a bad
 * option (the `option` field names it), `input_invalid` for sequences that
 * do not fit the spec.
 */
export class TrainingError extends Error {
  readonly code: 'config_invalid' | 'input_invalid';
  readonly option: string | undefined;

  constructor(code: 'config_invalid' | 'input_invalid', message: string, option?: string) {
    super(message);
    this.name = 'TrainingError';
    this.code = code;
    this.option = option;
  }
}
