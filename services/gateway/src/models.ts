/**
 * The models the gateway checks events against: the same folder, the same
 * newest-good-version rule and the same load checks as the worker (through
 * ModelCatalog), but no kernel: validating an event needs the manifest and
 * the scaler only.
 */
import { join } from 'node:path';
import { ModelCatalog, createScaler, loadModel, type CatalogSnapshot, type FeatureScaler, type Manifest } from '@streamcell/model';
import type { GatewayMetrics, Logger } from '@streamcell/telemetry';

/** A model as the gateway knows it. */
export interface GatewayModel {
  readonly name: string;
  readonly version: string;
  readonly manifest: Manifest;
  readonly scaler: FeatureScaler;
}

/** The models known at one moment, by name. */
export type GatewayModels = CatalogSnapshot<GatewayModel>;

/** Loads one version folder the way the worker does, minus the kernel. */
export async function loadGatewayModel(dir: string, name: string, version: string): Promise<GatewayModel> {
  const { manifest } = await loadModel(dir);
  if (manifest.name !== name || manifest.version !== version) {
    throw new Error(`${join(dir, 'model.json')}: name/version ${manifest.name}/${manifest.version} do not match the folder ${name}/${version}`);
  }
  return { name, version, manifest, scaler: createScaler(manifest) };
}

/** A watched catalog of the models in `dir`, logged and counted. */
export function gatewayCatalog(dir: string, log: Logger, metrics: GatewayMetrics): ModelCatalog<GatewayModel> {
  return new ModelCatalog<GatewayModel>({
    dir,
    load: loadGatewayModel,
    onLoaded: (model, previous) => {
      log.info({ model: model.name, version: model.version }, previous ? 'model version swapped in' : 'model loaded');
      if (previous) metrics.modelsLoaded.remove({ model: model.name, version: previous.version });
      metrics.modelsLoaded.set({ model: model.name, version: model.version }, 1);
    },
    onRefused: (name, version, err, serving) =>
      log.error({ model: name, version, err: (err as Error).message }, serving ? 'model version refused; the loaded version stays' : 'model version refused'),
    onUnreadable: (path, err) => log.error({ dir: path, err: (err as Error).message }, 'cannot read the models folder'),
  });
}
