import { isPlainDecimal } from '@streamcell/datasets';
import { StreamcellError } from '@streamcell/protocol';

function usage(message: string): StreamcellError {
  return new StreamcellError('usage', message);
}

/** Range of a numeric flag; bounds are inclusive unless marked open. */
export interface NumberRange {
  readonly min?: number;
  readonly max?: number;
  /** The bounds themselves are not allowed. */
  readonly minOpen?: boolean;
  readonly maxOpen?: boolean;
}

function describeRange(r: NumberRange): string {
  const lo = r.min === undefined ? undefined : `${r.minOpen === true ? '>' : '>='} ${r.min}`;
  const hi = r.max === undefined ? undefined : `${r.maxOpen === true ? '<' : '<='} ${r.max}`;
  if (lo !== undefined && hi !== undefined) {
    return `in ${r.minOpen === true ? '(' : '['}${r.min}, ${r.max}${r.maxOpen === true ? ')' : ']'}`;
  }
  return lo ?? hi ?? 'a number';
}

/**
 * A numeric flag's value, or `fallback` when the flag was not given. Text that
 * is not a plain decimal number, or a value outside `range`, is a usage error
 * naming the flag and the allowed range.
 */
export function numberFlag(name: string, text: string | undefined, fallback: number, range: NumberRange = {}): number {
  if (text === undefined) return fallback;
  const v = isPlainDecimal(text) ? Number(text) : Number.NaN;
  if (!Number.isFinite(v)) throw usage(`--${name} must be a number, not "${text}"`);
  const low = range.min !== undefined && (range.minOpen === true ? v <= range.min : v < range.min);
  const high = range.max !== undefined && (range.maxOpen === true ? v >= range.max : v > range.max);
  if (low || high) throw usage(`--${name} must be ${describeRange(range)}, not ${text}`);
  return v;
}

/** An integer flag; like {@link numberFlag}, and "2.5" is refused. */
export function integerFlag(name: string, text: string | undefined, fallback: number, range: NumberRange = {}): number {
  if (text === undefined) return fallback;
  if (!/^[+-]?\d+$/.test(text)) throw usage(`--${name} must be an integer, not "${text}"`);
  return numberFlag(name, text, fallback, range);
}

/** A flag whose value must be one of `choices`. */
export function choiceFlag<T extends string>(name: string, text: string | undefined, fallback: T, choices: readonly T[]): T {
  if (text === undefined) return fallback;
  if (!(choices as readonly string[]).includes(text)) throw usage(`--${name} must be one of ${choices.join(', ')}, not "${text}"`);
  return text as T;
}

/** A comma-separated list of column names (`--features a,b`); empty names are a usage error. */
export function listFlag(name: string, text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  const items = text.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) throw usage(`--${name} must be a comma-separated list of column names, not "${text}"`);
  return items;
}
