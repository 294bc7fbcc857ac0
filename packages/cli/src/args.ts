import { parseArgs } from 'node:util';
import { StreamcellError } from '@streamcell/protocol';

/** One option of a subcommand. */
export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
}

/** Parsed options: strings for string options, true for boolean flags; absent when not given. */
export type ParsedOptions<S extends Record<string, OptionSpec>> = {
  [K in keyof S]?: S[K]['type'] extends 'string' ? string : true;
};

function usage(message: string): StreamcellError {
  return new StreamcellError('usage', message);
}

/**
 * Parses a subcommand's arguments. We run node's parser in its lenient mode and
 * judge the tokens ourselves: its strict mode reports problems only as English
 * messages, and we want short, uniform usage errors without matching on text.
 * Positionals, unknown or repeated options, missing values and values given to
 * flags are all usage errors.
 */
export function parseOptions<S extends Record<string, OptionSpec>>(args: readonly string[], spec: S): ParsedOptions<S> {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, o] of Object.entries(spec)) {
    options[name] = o.short === undefined ? { type: o.type } : { type: o.type, short: o.short };
  }
  const { tokens } = parseArgs({ args: [...args], options, strict: false, allowPositionals: true, tokens: true });
  const result: Record<string, string | true> = {};
  for (const token of tokens) {
    if (token.kind === 'positional') throw usage(`unexpected argument "${token.value}"`);
    if (token.kind === 'option-terminator') continue;
    const known = Object.hasOwn(spec, token.name) ? spec[token.name] : undefined;
    if (known === undefined) throw usage(`unknown option ${token.rawName}`);
    const display = `--${token.name}`;
    if (Object.hasOwn(result, token.name)) throw usage(`${display} given more than once`);
    if (known.type === 'boolean') {
      if (token.value !== undefined) throw usage(`${display} takes no value`);
      result[token.name] = true;
    } else {
      // Lenient parsing lets "--model --state" swallow the next option as a
      // value; that is almost always a forgotten value, so refuse it.
      if (token.value === undefined || token.value === '' || (!token.inlineValue && token.value.startsWith('-') && token.value !== '-')) {
        throw usage(`${display} needs a value`);
      }
      result[token.name] = token.value;
    }
  }
  return result as ParsedOptions<S>;
}
