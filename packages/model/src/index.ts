export { loadModel, saveModel, specOf } from './artifact.ts';
export type { LoadedModel, SaveModelOptions } from './artifact.ts';
export {
  DEFAULT_WEIGHTS_FILE,
  MANIFEST_FILE,
  MODEL_FORMAT,
  TARGET_MODES,
  parseManifest,
  parseManifestText,
} from './manifest.ts';
export type { Manifest, ManifestInput, Scaler, TargetMode } from './manifest.ts';
export { createScaler } from './scaler.ts';
export type { FeatureScaler } from './scaler.ts';
export { MAX_HEADER_BYTES, decodeSafetensors, encodeSafetensors } from './safetensors.ts';
export type { SafetensorsContents, Tensor, TensorToWrite } from './safetensors.ts';
export { FLOAT_DTYPES } from './dtypes.ts';
export type { FloatDtype } from './dtypes.ts';
export { expectedTensorShapes, tensorsFromWeights, weightsFromTensors } from './weights.ts';
export { ModelCatalog, compareVersions, routeModel } from './catalog.ts';
export type { CatalogEntry, CatalogSnapshot, ModelCatalogOptions, ModelRoutes } from './catalog.ts';
