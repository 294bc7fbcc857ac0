import { inspect } from 'node:util';
import { StreamcellError, isStreamcellError } from '@streamcell/protocol';
import { COMMANDS } from './commands/index.ts';
import type { CliIo, Command } from './commands/types.ts';

/** Exit codes of the `streamcell` command. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const list = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n');
  return `Usage: streamcell <command> [options]

Commands:
${list}

Run 'streamcell <command> --help' for the options of a command.
Set STREAMCELL_DEBUG=1 to print stack traces on errors.
`;
}

function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}

function causes(err: unknown): string {
  let text = '';
  for (let e: unknown = err; e !== undefined; e = (e as { cause?: unknown }).cause) {
    if (!(e instanceof Error)) {
      text += `${text === '' ? '' : 'Caused by: '}${inspect(e)}\n`;
      break;
    }
    text += `${text === '' ? '' : 'Caused by: '}${e.stack ?? e.message}\n`;
  }
  return text;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/**
 * Runs `streamcell` with `argv` (without node and the script) and resolves to
 * the exit code instead of exiting, so tests can run it in-process. Failures
 * print one line on stderr, prefixed with the command; the stack trace only
 * with STREAMCELL_DEBUG=1, because users need the message, not our internals.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help') {
    (name === undefined ? io.stderr : io.stdout).write(overview());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === 'help') {
    const topic = rest[0] === undefined ? undefined : findCommand(rest[0]);
    io.stdout.write(topic?.help ?? overview());
    return EXIT.ok;
  }
  const command = findCommand(name);
  const label = command === undefined ? 'streamcell' : `streamcell ${command.name}`;
  try {
    if (command === undefined) {
      throw new StreamcellError('usage', `unknown command "${name}" (commands: ${COMMANDS.map((c) => c.name).join(', ')})`);
    }
    await command.run(rest, io);
    return EXIT.ok;
  } catch (err) {
    // Downstream closed the pipe (`... | head`): not an error of ours.
    if ((err as NodeJS.ErrnoException | undefined)?.code === 'EPIPE') return EXIT.ok;
    const debug = io.env['STREAMCELL_DEBUG'] === '1';
    if (isStreamcellError(err)) {
      const hint = err.code === 'usage' ? ` (see '${command === undefined ? 'streamcell --help' : `${label} --help`}')` : '';
      io.stderr.write(`${label}: ${oneLine(err.message)}${hint}\n`);
      if (debug) io.stderr.write(causes(err));
      return err.code === 'usage' ? EXIT.usage : EXIT.failure;
    }
    io.stderr.write(`${label}: internal error: ${oneLine(err instanceof Error ? err.message : String(err))}\n`);
    if (debug) io.stderr.write(causes(err));
    return EXIT.failure;
  }
}
