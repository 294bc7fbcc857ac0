// Fuzz cases for the weights and manifest loaders. Kept out of *.test.ts so a
// worker thread can run them: a hang then shows up as a timeout in the test
// instead of freezing the test runner.
import { isStreamcellError } from '@streamcell/protocol';
import { decodeSafetensors, encodeSafetensors, parseManifestText, specOf, tensorsFromWeights, weightsFromTensors } from '../src/index.ts';
import type { Manifest } from '../src/index.ts';
import { manifestFor, prng, randomWeights } from './helpers.ts';

/** What a fuzz run found. */
export interface FuzzReport {
  cases: number;
  /** Cases that loaded without error (sanity: mutations do not all fail the same way). */
  accepted: number;
  /** Cases that threw anything but a StreamcellError. */
  failures: string[];
}

const INTERESTING: unknown[] = [
  -1, 0, 1, 3, 4, 7, 8, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 64, 1e308, -0, 0.5, 'F32', 'F16', 'BF16', 'F64', 'I8', '',
  'x', null, true, [], {}, [0], [0, 0], [1, 2, 3], [-1, 4], [2 ** 53, 2 ** 53 + 8], ['0', '4'], { a: 1 }, '__proto__',
];

/**
 * Runs `report.cases` hostile inputs through the full load path (safetensors
 * decode, tensor-to-weights mapping against a manifest, manifest parsing).
 * `progress` is called now and then with the number of cases done.
 */
export function runFuzz(seed: number, progress: (done: number) => void = () => undefined): FuzzReport {
  const rand = prng(seed);
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const manifest: Manifest = parseManifestText(JSON.stringify(manifestFor()), 'fuzz/model.json');
  const spec = specOf(manifest);
  const valid = encodeSafetensors(tensorsFromWeights(randomWeights(spec, seed)), { source: 'fuzz' });
  const headerLength = Number(new DataView(valid.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(valid.subarray(8, 8 + headerLength))) as Record<string, Record<string, unknown>>;
  const data = valid.subarray(8 + headerLength);

  const report: FuzzReport = { cases: 0, accepted: 0, failures: [] };
  const attempt = (label: string, run: () => unknown): void => {
    report.cases++;
    if (report.cases % 500 === 0) progress(report.cases);
    try {
      run();
      report.accepted++;
    } catch (err) {
      if (!isStreamcellError(err) && report.failures.length < 20) {
        report.failures.push(`${label}: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
      }
    }
  };
  const load = (bytes: Uint8Array) => () => weightsFromTensors(decodeSafetensors(bytes, 'fuzz.safetensors').tensors, spec, 'fuzz.safetensors');
  const withHeader = (json: string, body: Uint8Array = data, declared?: bigint): Uint8Array => {
    const h = new TextEncoder().encode(json);
    const out = new Uint8Array(8 + h.length + body.length);
    new DataView(out.buffer).setBigUint64(0, declared ?? BigInt(h.length), true);
    out.set(h, 8);
    out.set(body, 8 + h.length);
    return out;
  };

  attempt('valid file', load(valid));
  if (report.accepted !== 1) report.failures.push('the unmutated file did not load: the fuzz harness is broken');

  // Every truncation of a valid file.
  for (let length = 0; length < valid.length; length++) attempt(`truncated to ${length}`, load(valid.subarray(0, length)));

  // Random bytes, some with a plausible length prefix so they reach the JSON parser.
  for (let i = 0; i < 2000; i++) {
    const bytes = Uint8Array.from({ length: int(300) }, () => int(256));
    if (i % 2 === 0 && bytes.length >= 8) new DataView(bytes.buffer).setBigUint64(0, BigInt(int(bytes.length)), true);
    attempt(`random bytes #${i}`, load(bytes));
  }

  // Random byte flips and overwrites anywhere in a valid file.
  for (let i = 0; i < 4000; i++) {
    const bytes = valid.slice();
    const flips = 1 + int(4);
    for (let f = 0; f < flips; f++) {
      const at = i % 3 === 0 ? int(Math.min(bytes.length, 8 + headerLength)) : int(bytes.length);
      bytes[at] = i % 2 === 0 ? bytes[at]! ^ (1 << int(8)) : int(256);
    }
    attempt(`byte flips #${i}`, load(bytes));
  }

  // Structure-aware: change one field of one header entry to an odd value.
  const names = Object.keys(header);
  for (let i = 0; i < 4000; i++) {
    const copy = structuredClone(header);
    const name = pick(names);
    const entry = copy[name]!;
    const field = pick(['dtype', 'shape', 'data_offsets', 'extra', '__whole__', '__rename__', '__delete__']);
    if (field === '__whole__') copy[name] = pick(INTERESTING) as Record<string, unknown>;
    else if (field === '__rename__') {
      delete copy[name];
      copy[pick(['__proto__', 'constructor', 'rnn.weight_ih_l2', 'rnn.weight_ih_l0_reverse', 'head.weight', ''])] = entry;
    } else if (field === '__delete__') delete copy[name];
    else if (Array.isArray(entry[field]) && rand() < 0.5) (entry[field] as unknown[])[int(3)] = pick(INTERESTING);
    else entry[field] = pick(INTERESTING);
    const body = rand() < 0.2 ? data.subarray(0, int(data.length + 1)) : data;
    attempt(`header mutation #${i} (${name}.${field})`, load(withHeader(JSON.stringify(copy), body)));
  }

  // Bogus headers: random JSON, wrong declared lengths, nesting.
  for (let i = 0; i < 2000; i++) {
    const json = pick([
      () => JSON.stringify(pick(INTERESTING)),
      () => '['.repeat(int(100000)) + ']'.repeat(int(100000)),
      () => `{"a":${'['.repeat(int(5000))}`,
      () => JSON.stringify({ [pick(['a', '__metadata__', '__proto__'])]: pick(INTERESTING) }),
      () => JSON.stringify({ t: { dtype: pick(INTERESTING), shape: pick(INTERESTING), data_offsets: pick(INTERESTING) } }),
      () => '\uFEFF{}',
      () => '{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}',
    ])();
    const declared = rand() < 0.3 ? BigInt(int(2 ** 31)) * BigInt(1 + int(2 ** 20)) : undefined;
    attempt(`bogus header #${i}`, load(withHeader(json, data.subarray(0, int(data.length + 1)), declared)));
  }

  // Manifests: byte flips in a valid model.json.
  const manifestText = JSON.stringify(manifestFor());
  for (let i = 0; i < 2000; i++) {
    const chars = [...manifestText];
    chars[int(chars.length)] = String.fromCharCode(int(128));
    attempt(`manifest flip #${i}`, () => parseManifestText(chars.join(''), 'fuzz/model.json'));
  }

  progress(report.cases);
  return report;
}
