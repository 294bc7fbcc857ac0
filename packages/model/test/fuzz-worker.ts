// Runs the fuzz cases in a worker thread for safetensors.fuzz.test.ts.
import { parentPort, workerData } from 'node:worker_threads';
import { runFuzz } from './fuzz-cases.ts';

const { seed } = workerData as { seed: number };
const report = runFuzz(seed, (done) => parentPort!.postMessage({ kind: 'progress', done }));
parentPort!.postMessage({ kind: 'done', report });
