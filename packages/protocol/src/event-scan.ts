/**
 * A fast path for the common event: read straight from its bytes, with no
 * text, no parsed object and no values object made on the way.
 *
 * {@link decodeEvent} (JSON.parse, then checks) and {@link readFeatureValues}
 * are the definition of what an event means. {@link EventScanner} reads a
 * subset of JSON and answers only "this event is valid, and here is what
 * decodeEvent and readFeatureValues would have made of it" or "ask them":
 * it never rejects. Anything outside the subset is theirs: an escape in
 * any string, a byte outside printable ASCII in the stream id, the model,
 * a time or a feature name, one of the six documented fields given twice,
 * a wrong type, a value that would be rejected. A producer's own fields
 * are passed over, as decodeEvent ignores them (their names and strings
 * may hold any bytes of 0x20 and above but no escape; their values may
 * nest 32 deep). So every dead letter, with its code and message, still
 * comes from the one definition, and the worker falls back to it whenever
 * the scanner says no.
 *
 *   {"stream":"s42","ts":1764219600000,"values":[21.5,40.2]}
 *
 * is what producers send nearly always (JSON.stringify of a plain object),
 * and takes about 0.55 µs here against 0.85 for JSON.parse and the checks.
 */
import { MAX_STREAM_ID_BYTES } from './event.ts';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

/** The top-level fields, as bits of the seen-set. */
const F_STREAM = 1;
const F_TS = 2;
const F_VALUES = 4;
const F_MODEL = 8;
const F_RESET = 16;
const F_END = 32;
/** Any other name: a producer's own field, which decodeEvent ignores (its value must still be JSON). */
const F_OTHER = 64;

/** Nesting a producer's own field may have here; deeper ones go to decodeEvent. */
const MAX_SKIP_DEPTH = 32;

/** 10^0 .. 10^22: exact as doubles, so one multiplication or division rounds once. */
const POW10: readonly number[] = Array.from({ length: 23 }, (_, i) => 10 ** i);

/** Significant digits read into one integer: below 2^53, so exact. */
const MAX_FAST_DIGITS = 15;

/** The shape {@link decodeEvent} requires of a string `ts`. */
const ISO_TS = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** ASCII a JSON string may hold as it is: printable, neither quote nor backslash. */
function isPlainChar(c: number): boolean {
  return c >= 0x20 && c <= 0x7e && c !== QUOTE && c !== BACKSLASH;
}

/**
 * Reads events in the common shape. One scanner serves one thread; what the
 * last successful {@link scan} found stays in its fields until the next.
 */
export class EventScanner {
  /** The stream id: the `stream` field, else the message key. */
  stream = '';
  /** Event time, epoch milliseconds (the fallback when the event has none). */
  ts = 0;
  model: string | undefined = undefined;
  reset = false;
  end = false;
  /** True when `values` was an object by feature name, false for an array. */
  named = false;
  /** How many values `values` held. */
  count = 0;

  #bytes: Uint8Array = new Uint8Array(0);
  #buffer: Buffer = Buffer.alloc(0);
  #at = 0;
  #values = new Float64Array(16);
  /** For named values: where each name starts and ends in the bytes. */
  #nameStart = new Int32Array(16);
  #nameEnd = new Int32Array(16);
  /** readInto's marks of the features already named. */
  #taken = new Uint8Array(16);
  /** The number {@link #number} read: in an array, so that it is not boxed on its way out. */
  readonly #num = new Float64Array(1);

  /**
   * Reads `value` (and `key`, the message key) as an event. True when it is
   * a valid event in the common shape: then the fields hold what
   * {@link decodeEvent} would return. False says nothing about validity:
   * the caller asks decodeEvent.
   */
  scan(value: Uint8Array | null, key: Uint8Array | null, maxEventBytes: number, fallbackTs: number): boolean {
    if (value === null || value.length === 0 || value.length > maxEventBytes) return false;
    this.#bytes = value;
    this.#buffer = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.length);
    this.#at = 0;
    this.count = 0;
    if (this.#next() !== OPEN_BRACE) return false;
    this.#at += 1;
    let seen = 0;
    let streamStart = -1;
    let streamEnd = -1;
    let ts = fallbackTs;
    let model: string | undefined;
    let reset = false;
    let end = false;
    if (this.#next() === CLOSE_BRACE) return false; // no values
    for (;;) {
      const field = this.#field();
      if (field === 0 || (seen & field & ~F_OTHER) !== 0) return false;
      seen |= field;
      if (this.#next() !== COLON) return false;
      this.#at += 1;
      const c = this.#next();
      switch (field) {
        case F_STREAM: {
          if (c !== QUOTE) return false;
          streamStart = this.#at + 1;
          streamEnd = this.#plainString();
          if (streamEnd < 0 || streamEnd === streamStart || streamEnd - streamStart > MAX_STREAM_ID_BYTES) return false;
          break;
        }
        case F_TS: {
          if (c === QUOTE) {
            const start = this.#at + 1;
            const stop = this.#plainString();
            if (stop < 0) return false;
            const text = this.#buffer.toString('latin1', start, stop);
            ts = ISO_TS.test(text) ? Date.parse(text) : Number.NaN;
            if (Number.isNaN(ts)) return false;
          } else {
            if (!this.#number()) return false;
            ts = this.#num[0]!;
            // decodeEvent rejects the infinite and the negative.
            if (!(ts >= 0) || ts === Number.POSITIVE_INFINITY) return false;
          }
          break;
        }
        case F_VALUES: {
          if (c === OPEN_BRACKET) {
            if (!this.#array()) return false;
          } else if (c === OPEN_BRACE) {
            if (!this.#object()) return false;
          } else return false;
          break;
        }
        case F_MODEL: {
          if (c !== QUOTE) return false;
          const start = this.#at + 1;
          const stop = this.#plainString();
          if (stop <= start) return false;
          model = this.#buffer.toString('latin1', start, stop);
          break;
        }
        case F_OTHER: {
          if (!this.#skipValue(0)) return false;
          break;
        }
        default: {
          const flag = this.#literal();
          if (flag === undefined) return false;
          if (field === F_RESET) reset = flag;
          else end = flag;
        }
      }
      const after = this.#next();
      this.#at += 1;
      if (after === CLOSE_BRACE) break;
      if (after !== COMMA) return false;
    }
    // Nothing but whitespace after the object.
    if (this.#next() !== -1) return false;
    if ((seen & F_VALUES) === 0) return false;

    // The stream id: the field, else the key; the key, when both are there, must be the same bytes.
    const hasKey = key !== null && key.length > 0;
    if (streamStart >= 0) {
      if (hasKey) {
        if (key.length !== streamEnd - streamStart) return false;
        for (let i = 0; i < key.length; i++) if (key[i] !== value[streamStart + i]) return false;
      }
      this.stream = this.#buffer.toString('latin1', streamStart, streamEnd);
    } else {
      if (!hasKey || key.length > MAX_STREAM_ID_BYTES) return false;
      for (let i = 0; i < key.length; i++) if (key[i]! < 0x20 || key[i]! > 0x7e) return false;
      this.stream = Buffer.isBuffer(key) ? key.toString('latin1') : Buffer.from(key.buffer, key.byteOffset, key.length).toString('latin1');
    }
    this.ts = ts;
    this.model = model;
    this.reset = reset;
    this.end = end;
    return true;
  }

  /**
   * Writes the scanned values into `row` in the order of `features`, as
   * {@link readFeatureValues} would. False, with `row` in any state, when
   * they do not match the features one to one: the caller asks
   * readFeatureValues, which says why.
   */
  readInto(features: readonly string[], row: Float64Array): boolean {
    const n = this.count;
    if (n !== features.length) return false;
    const values = this.#values;
    if (!this.named) {
      for (let i = 0; i < n; i++) row[i] = values[i]!;
      return true;
    }
    // Each name must be one feature, each feature named once: n names on n features.
    if (this.#taken.length < n) this.#taken = new Uint8Array(n);
    const taken = this.#taken.fill(0, 0, n);
    const bytes = this.#bytes;
    for (let k = 0; k < n; k++) {
      const start = this.#nameStart[k]!;
      const len = this.#nameEnd[k]! - start;
      let found = -1;
      for (let i = 0; i < n && found < 0; i++) {
        const name = features[i]!;
        if (name.length !== len) continue;
        let same = true;
        for (let j = 0; j < len && same; j++) same = name.charCodeAt(j) === bytes[start + j];
        if (same) found = i;
      }
      if (found < 0) return false;
      if (taken[found] !== 0) return false;
      taken[found] = 1;
      row[found] = values[k]!;
    }
    return true;
  }

  /** The next byte that is not whitespace (the position moves to it), or -1 at the end. */
  #next(): number {
    const bytes = this.#bytes;
    let at = this.#at;
    while (at < bytes.length && isSpace(bytes[at]!)) at++;
    this.#at = at;
    return at < bytes.length ? bytes[at]! : -1;
  }

  /**
   * At a quote: reads a string of plain characters; returns where it ends
   * (the closing quote, which the position moves past), or -1 when it holds
   * anything else.
   */
  #plainString(): number {
    const bytes = this.#bytes;
    let at = this.#at + 1;
    while (at < bytes.length && isPlainChar(bytes[at]!)) at++;
    if (at >= bytes.length || bytes[at] !== QUOTE) return -1;
    this.#at = at + 1;
    return at;
  }

  /**
   * Reads a member's name; returns its field bit, {@link F_OTHER} for any
   * other name, or 0 for a name with an escape (which could spell a field's
   * name) or not a string.
   */
  #field(): number {
    if (this.#next() !== QUOTE) return 0;
    const start = this.#at + 1;
    const stop = this.#plainString();
    if (stop < 0) return this.#skipString() ? F_OTHER : 0;
    const b = this.#bytes;
    switch (stop - start) {
      case 2:
        return b[start] === 0x74 && b[start + 1] === 0x73 ? F_TS : F_OTHER; // ts
      case 3:
        return b[start] === 0x65 && b[start + 1] === 0x6e && b[start + 2] === 0x64 ? F_END : F_OTHER; // end
      case 5:
        if (this.#is(start, 'model')) return F_MODEL;
        return this.#is(start, 'reset') ? F_RESET : F_OTHER;
      case 6:
        if (this.#is(start, 'stream')) return F_STREAM;
        return this.#is(start, 'values') ? F_VALUES : F_OTHER;
      default:
        return F_OTHER;
    }
  }

  /**
   * At a quote: passes a string with no escape, whatever bytes of 0x20 and
   * above it holds (in UTF-8 text they decode to characters or to the
   * replacement character, and JSON takes either). False for an escape or
   * a control character.
   */
  #skipString(): boolean {
    const bytes = this.#bytes;
    let at = this.#at + 1;
    while (at < bytes.length) {
      const c = bytes[at]!;
      if (c === QUOTE) {
        this.#at = at + 1;
        return true;
      }
      if (c < 0x20 || c === BACKSLASH) return false;
      at++;
    }
    return false;
  }

  /** Passes one JSON value of a producer's own field; false where it is not JSON, or not simple enough to tell here. */
  #skipValue(depth: number): boolean {
    const c = this.#next();
    if (c === QUOTE) return this.#skipString();
    if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      if (depth >= MAX_SKIP_DEPTH) return false;
      const close = c === OPEN_BRACKET ? CLOSE_BRACKET : CLOSE_BRACE;
      this.#at += 1;
      if (this.#next() === close) {
        this.#at += 1;
        return true;
      }
      for (;;) {
        if (close === CLOSE_BRACE) {
          if (this.#next() !== QUOTE || !this.#skipString()) return false;
          if (this.#next() !== COLON) return false;
          this.#at += 1;
        }
        if (!this.#skipValue(depth + 1)) return false;
        const after = this.#next();
        this.#at += 1;
        if (after === close) return true;
        if (after !== COMMA) return false;
      }
    }
    if (c === 0x6e) {
      // null
      const b = this.#bytes;
      const at = this.#at;
      if (b[at + 1] !== 0x75 || b[at + 2] !== 0x6c || b[at + 3] !== 0x6c) return false;
      this.#at = at + 4;
      return true;
    }
    if (c === 0x74 || c === 0x66) return this.#literal() !== undefined;
    // A number: any JSON number, Infinity (1e999) included, since decodeEvent ignores the field.
    return this.#number();
  }

  #is(start: number, name: string): boolean {
    const b = this.#bytes;
    for (let i = 0; i < name.length; i++) if (b[start + i] !== name.charCodeAt(i)) return false;
    return true;
  }

  /** Reads `true` or `false`; undefined for anything else. */
  #literal(): boolean | undefined {
    const b = this.#bytes;
    const at = this.#at;
    if (b[at] === 0x74 && b[at + 1] === 0x72 && b[at + 2] === 0x75 && b[at + 3] === 0x65) {
      this.#at = at + 4;
      return true;
    }
    if (b[at] === 0x66 && b[at + 1] === 0x61 && b[at + 2] === 0x6c && b[at + 3] === 0x73 && b[at + 4] === 0x65) {
      this.#at = at + 5;
      return false;
    }
    return undefined;
  }

  /** Appends the number just read (in {@link #num}) to the values. */
  #push(): void {
    if (this.count === this.#values.length) {
      const grown = new Float64Array(this.count * 2);
      grown.set(this.#values);
      this.#values = grown;
      const starts = new Int32Array(this.count * 2);
      starts.set(this.#nameStart);
      this.#nameStart = starts;
      const ends = new Int32Array(this.count * 2);
      ends.set(this.#nameEnd);
      this.#nameEnd = ends;
    }
    this.#values[this.count++] = this.#num[0]!;
  }

  /** At `[`: reads an array of finite numbers. */
  #array(): boolean {
    this.named = false;
    this.#at += 1;
    if (this.#next() === CLOSE_BRACKET) {
      this.#at += 1;
      return true;
    }
    for (;;) {
      this.#next();
      if (!this.#number() || !Number.isFinite(this.#num[0]!)) return false;
      this.#push();
      const c = this.#next();
      this.#at += 1;
      if (c === CLOSE_BRACKET) return true;
      if (c !== COMMA) return false;
    }
  }

  /** At `{`: reads an object of finite numbers by plain names. */
  #object(): boolean {
    this.named = true;
    this.#at += 1;
    if (this.#next() === CLOSE_BRACE) {
      this.#at += 1;
      return true;
    }
    for (;;) {
      if (this.#next() !== QUOTE) return false;
      const start = this.#at + 1;
      const stop = this.#plainString();
      if (stop < 0) return false;
      if (this.#next() !== COLON) return false;
      this.#at += 1;
      this.#next();
      if (!this.#number() || !Number.isFinite(this.#num[0]!)) return false;
      const k = this.count;
      this.#push();
      this.#nameStart[k] = start;
      this.#nameEnd[k] = stop;
      const c = this.#next();
      this.#at += 1;
      if (c === CLOSE_BRACE) return true;
      if (c !== COMMA) return false;
    }
  }

  /**
   * Reads a number as JSON writes them into {@link #num}, what JSON.parse
   * makes of it; false when the text is not a JSON number. Up to 15 significant digits
   * with a small exponent are exact in one rounding (an integer below 2^53
   * times or over an exact power of ten); other numbers go through Number(),
   * which rounds a JSON number's text the way JSON.parse does.
   */
  #number(): boolean {
    // Bytes past the end read as undefined, which no comparison below matches.
    const b = this.#bytes;
    const start = this.#at;
    let at = start;
    let c = b[at];
    const negative = c === MINUS;
    if (negative) c = b[++at];
    let digits = 0;
    let significant = 0;
    let scale = 0; // the power of ten `digits` is to be multiplied by
    // The integer part: 0, or a digit 1-9 and more.
    if (c === ZERO) {
      c = b[++at];
    } else if (c !== undefined && c > ZERO && c <= NINE) {
      do {
        // Digits past the fifteenth are Number()'s (below): only counted here.
        if (significant < MAX_FAST_DIGITS) digits = digits * 10 + (c - ZERO);
        significant++;
        c = b[++at];
      } while (c !== undefined && c >= ZERO && c <= NINE);
    } else {
      return false;
    }
    if (c === DOT) {
      c = b[++at];
      if (c === undefined || c < ZERO || c > NINE) return false;
      do {
        if (significant === 0 && c === ZERO) {
          scale--; // a leading zero: 0.05 is 5 x 10^-2
        } else {
          if (significant < MAX_FAST_DIGITS) {
            digits = digits * 10 + (c - ZERO);
            scale--;
          }
          significant++;
        }
        c = b[++at];
      } while (c !== undefined && c >= ZERO && c <= NINE);
    }
    if (c === 0x65 || c === 0x45) {
      c = b[++at];
      const expNegative = c === MINUS;
      if (c === MINUS || c === PLUS) c = b[++at];
      if (c === undefined || c < ZERO || c > NINE) return false;
      let exponent = 0;
      do {
        // Past 9 digits the fast path is out of reach: Number() reads the text.
        if (exponent < 1e8) exponent = exponent * 10 + (c - ZERO);
        c = b[++at];
      } while (c !== undefined && c >= ZERO && c <= NINE);
      scale += expNegative ? -exponent : exponent;
    }
    this.#at = at;
    let v: number;
    if (significant === 0) v = 0;
    else if (significant <= MAX_FAST_DIGITS && scale >= -22 && scale <= 22) v = scale >= 0 ? digits * POW10[scale]! : digits / POW10[-scale]!;
    else v = Number(this.#buffer.toString('latin1', negative ? start + 1 : start, at));
    this.#num[0] = negative ? -v : v;
    return true;
  }
}
