/** The process streams and environment a command may use; tests pass their own. */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/**
 * A `streamcell` subcommand. `run` throws StreamcellError for every expected
 * failure (code `usage` for bad arguments); the dispatcher turns that into one
 * stderr line and the exit code, so commands never print errors or exit.
 */
export interface Command {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Full `--help` text. */
  readonly help: string;
  run(args: readonly string[], io: CliIo): Promise<void>;
}
