import { evalCommand } from './eval.ts';
import { predictCommand } from './predict.ts';
import { replayCommand } from './replay.ts';
import { trainCommand } from './train.ts';
import type { Command } from './types.ts';

/** Every subcommand, in the order `streamcell --help` lists them. Add new ones here. */
export const COMMANDS: readonly Command[] = [predictCommand, trainCommand, evalCommand, replayCommand];
