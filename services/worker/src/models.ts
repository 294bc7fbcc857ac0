/**
 * The models a worker serves, from a folder laid out `<name>/<version>/`.
 * The newest loadable version of each name serves; the folder is scanned
 * again every MODEL_POLL_MS so that a new version is picked up without a
 * restart. A batch takes a snapshot when it starts and finishes on it, so a
 * swap never changes a model under a batch in flight. A version that fails to
 * load is logged and counted once per distinct state of its files (it is
 * retried when they change) and never replaces one that works.
 */
import { join } from 'node:path';
import { ModelCatalog, loadModel } from '@streamcell/model';
import { modelVersionHash } from '@streamcell/state';
import type { Logger, WorkerMetrics } from '@streamcell/telemetry';
import { stepModel, type StepModel } from './step-job.ts';

/** A model ready to step streams. */
export interface ServingModel extends StepModel {
  /** Stored in every state record; a different hash resets the state. */
  readonly hash: number;
  /** Feature index of each target, for the actual values the forecasts are scored against. */
  readonly targetFeature: readonly number[];
  /** Where one event's feature values are read before they are scaled (inputSize values; used synchronously, then copied). */
  readonly rawRow: Float64Array;
}

/** An immutable view of the models serving at one moment. */
export type ModelSnapshot = ReadonlyMap<string, ServingModel>;

/** Watches a models folder (see ModelCatalog) and serves the newest good version of each model. */
export class ModelRegistry {
  readonly #maxBatch: number;
  readonly #catalog: ModelCatalog<ServingModel>;

  constructor(options: { dir: string; maxBatch: number; log: Logger; metrics: WorkerMetrics }) {
    const { dir, log, metrics } = options;
    this.#maxBatch = options.maxBatch;
    this.#catalog = new ModelCatalog<ServingModel>({
      dir,
      load: (path, name, version) => this.#load(path, name, version),
      onLoaded: (model, previous) => {
        log.info({ model: model.name, version: model.version, cell: model.manifest.cell, hidden: model.manifest.hiddenSize, layers: model.manifest.numLayers, fused: model.stepper.fusedMultiplyAdd }, previous ? 'model version swapped in' : 'model loaded');
        if (previous) metrics.modelsLoaded.remove({ model: model.name, version: previous.version });
        metrics.modelsLoaded.set({ model: model.name, version: model.version }, 1);
      },
      onRefused: (name, version, err, serving) => {
        metrics.modelLoadFailures.inc({ model: name });
        log.error({ model: name, version, err: (err as Error).message }, serving ? 'model version refused; the loaded version keeps serving' : 'model version refused');
      },
      onUnreadable: (path, err) => log.error({ dir: path, err: (err as Error).message }, 'cannot read the models folder'),
    });
  }

  /** The models serving now; hold on to it for the length of a batch. */
  snapshot(): ModelSnapshot {
    return this.#catalog.snapshot();
  }

  /** Scans once now, then every `pollMs`. */
  start(pollMs: number): Promise<void> {
    return this.#catalog.start(pollMs);
  }

  /** Stops rescanning. */
  stop(): void {
    this.#catalog.stop();
  }

  /** One scan of the folder; concurrent calls share one scan. */
  scan(): Promise<void> {
    return this.#catalog.scan();
  }

  async #load(dir: string, name: string, version: string): Promise<ServingModel> {
    const { manifest, weights } = await loadModel(dir);
    if (manifest.name !== name || manifest.version !== version) {
      throw new Error(`${join(dir, 'model.json')}: name/version ${manifest.name}/${manifest.version} do not match the folder ${name}/${version}`);
    }
    return {
      ...stepModel(manifest, weights, this.#maxBatch),
      hash: modelVersionHash(name, version),
      targetFeature: manifest.targets.map((t) => manifest.features.indexOf(t)),
      rawRow: new Float64Array(manifest.inputSize),
    };
  }
}
