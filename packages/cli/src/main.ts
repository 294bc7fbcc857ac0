#!/usr/bin/env node
// Entry point of the `streamcell` command (`pnpm streamcell ...` from the repo root).
import { runCli } from './cli.ts';

// Without a listener an EPIPE on stdout (`streamcell predict ... | head`) would
// crash the process with a stack trace. A closed pipe means the reader has
// what it wanted; any other write failure is reported in one line.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  process.stderr.write(`streamcell: cannot write output (${err.message})\n`);
  process.exit(1);
});

process.exitCode = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
