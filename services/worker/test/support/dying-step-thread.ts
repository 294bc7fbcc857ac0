/** A step thread for tests that takes models but dies (exit code 3) on the first job it is given. */
import { parentPort } from 'node:worker_threads';
import type { FromStepThread, ToStepThread } from '../../src/step-runner.ts';

parentPort!.on('message', (msg: ToStepThread) => {
  if (msg.type === 'model') parentPort!.postMessage({ type: 'model', id: msg.id, error: undefined } satisfies FromStepThread);
  if (msg.type === 'job') process.exit(3);
});
