export { EXIT, runCli } from './cli.ts';
export { COMMANDS } from './commands/index.ts';
export type { CliIo, Command } from './commands/types.ts';
export { INPUT_FORMATS, STDIN, detectFormat, readCsv, readInputRows, readJsonl } from './input.ts';
export type { InputFormat, InputRow } from './input.ts';
export { predict, predictRows } from './predict.ts';
export type { PredictOptions, PredictRowsOptions, PredictStep } from './predict.ts';
