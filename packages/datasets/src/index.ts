/**
 * @streamcell/datasets — time series from CSV files, read by column name as
 * the `--features/--targets/--time-column/--group-column` flags of `train`,
 * `eval` and `replay` say, and the real demo data sets (sensor, stock,
 * weather) that ship in npm packages.
 */
export { SINGLE_SERIES_ID, checkColumns, isPlainDecimal, parseDecimalCell, parseTimeCell, readSeriesCsv } from './csv-series.ts';
export type { Series, SeriesColumns, SeriesSet } from './csv-series.ts';
export { DEMO_DATASETS, demoDataset, demoDatasetFile, readDemoDataset } from './demo.ts';
export type { DemoDataset } from './demo.ts';
