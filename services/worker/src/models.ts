/**
 * The models a worker serves, from a folder laid out `<name>/<version>/`.
 * The newest loadable version of each name serves; the folder is scanned
 * again every MODEL_POLL_MS so that a new version is picked up without a
 * restart. A batch takes a snapshot when it starts and finishes on it, so a
 * swap never changes a model under a batch in flight. A version that fails to
 * load is logged and counted once and never replaces one that works.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createScaler, loadModel, specOf, type FeatureScaler, type Manifest } from '@streamcell/model';
import { createStepper, stateSize, type FastStepper } from '@streamcell/rnn';
import { modelVersionHash } from '@streamcell/state';
import type { Logger, WorkerMetrics } from '@streamcell/telemetry';

/** A model ready to step streams. */
export interface ServingModel {
  readonly name: string;
  readonly version: string;
  readonly manifest: Manifest;
  /** Stored in every state record; a different hash resets the state. */
  readonly hash: number;
  readonly stepper: FastStepper;
  readonly scaler: FeatureScaler;
  readonly stateSize: number;
  /** Feature index of each target, for the actual values the forecasts are scored against. */
  readonly targetFeature: readonly number[];
}

/** An immutable view of the models serving at one moment. */
export type ModelSnapshot = ReadonlyMap<string, ServingModel>;

/**
 * Orders versions: numerically when both are whole numbers ("10" after "9"),
 * otherwise by natural string order ("2024-06-01" after "2024-05-30").
 */
export function compareVersions(a: string, b: string): number {
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) return Number(a) - Number(b);
  return a.localeCompare(b, 'en', { numeric: true });
}

/** Watches a models folder and serves the newest good version of each model. */
export class ModelRegistry {
  readonly #dir: string;
  readonly #maxBatch: number;
  readonly #log: Logger;
  readonly #metrics: WorkerMetrics;
  #snapshot: ModelSnapshot = new Map();
  /** Versions that failed, so that each failure is logged and counted once. */
  readonly #failed = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #scanning: Promise<void> | undefined;

  constructor(options: { dir: string; maxBatch: number; log: Logger; metrics: WorkerMetrics }) {
    this.#dir = options.dir;
    this.#maxBatch = options.maxBatch;
    this.#log = options.log;
    this.#metrics = options.metrics;
  }

  /** The models serving now; hold on to it for the length of a batch. */
  snapshot(): ModelSnapshot {
    return this.#snapshot;
  }

  /** Scans once now, then every `pollMs`. */
  async start(pollMs: number): Promise<void> {
    await this.scan();
    this.#timer = setInterval(() => {
      void this.scan();
    }, pollMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One scan of the folder; concurrent calls share one scan. */
  scan(): Promise<void> {
    this.#scanning ??= this.#scan().finally(() => {
      this.#scanning = undefined;
    });
    return this.#scanning;
  }

  async #scan(): Promise<void> {
    let names: string[];
    try {
      names = (await readdir(this.#dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch (err) {
      this.#log.error({ dir: this.#dir, err: (err as Error).message }, 'cannot read the models folder');
      return;
    }
    const next = new Map(this.#snapshot);
    for (const name of names) {
      let versions: string[];
      try {
        versions = (await readdir(join(this.#dir, name), { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
      } catch {
        continue;
      }
      versions.sort(compareVersions).reverse();
      const current = next.get(name);
      for (const version of versions) {
        // Only a newer version than the one serving can replace it.
        if (current && compareVersions(version, current.version) <= 0) break;
        const id = `${name}/${version}`;
        if (this.#failed.has(id)) continue;
        try {
          const model = await this.#load(join(this.#dir, name, version), name, version);
          next.set(name, model);
          this.#log.info({ model: name, version, cell: model.manifest.cell, hidden: model.manifest.hiddenSize, layers: model.manifest.numLayers, fused: model.stepper.fusedMultiplyAdd }, current ? 'model version swapped in' : 'model loaded');
          if (current) this.#metrics.modelsLoaded.remove({ model: name, version: current.version });
          this.#metrics.modelsLoaded.set({ model: name, version }, 1);
          break;
        } catch (err) {
          this.#failed.add(id);
          this.#metrics.modelLoadFailures.inc({ model: name });
          this.#log.error({ model: name, version, err: (err as Error).message }, current ? 'model version refused; the loaded version keeps serving' : 'model version refused');
        }
      }
    }
    this.#snapshot = next;
  }

  async #load(dir: string, name: string, version: string): Promise<ServingModel> {
    const { manifest, weights } = await loadModel(dir);
    if (manifest.name !== name || manifest.version !== version) {
      throw new Error(`${join(dir, 'model.json')}: name/version ${manifest.name}/${manifest.version} do not match the folder ${name}/${version}`);
    }
    const spec = specOf(manifest);
    return {
      name,
      version,
      manifest,
      hash: modelVersionHash(name, version),
      stepper: createStepper(weights, { maxBatch: this.#maxBatch }),
      scaler: createScaler(manifest),
      stateSize: stateSize(spec),
      targetFeature: manifest.targets.map((t) => manifest.features.indexOf(t)),
    };
  }
}
