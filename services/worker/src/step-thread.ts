/**
 * The step thread (see step-runner.ts): runs step jobs for the worker's
 * thread on models it is sent once. Every message is answered in the order
 * it came: a model with whether it could be built, a job with its results
 * or its error.
 */
import { parentPort } from 'node:worker_threads';
import { runStepJob, stepModel, type StepModel } from './step-job.ts';
import type { FromStepThread, ToStepThread } from './step-runner.ts';

const port = parentPort;
if (port === null) throw new Error('step-thread.ts runs as a worker thread (see StepRunner)');

const models = new Map<number, StepModel>();

function answer(reply: FromStepThread, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(reply, transfer);
}

port.on('message', (msg: ToStepThread) => {
  if (msg.type === 'model') {
    try {
      models.set(msg.id, stepModel(msg.manifest, msg.weights, msg.maxBatch));
      answer({ type: 'model', id: msg.id, error: undefined });
    } catch (err) {
      answer({ type: 'model', id: msg.id, error: err instanceof Error ? err.message : String(err) });
    }
    return;
  }
  if (msg.type === 'drop') {
    models.delete(msg.id);
    return;
  }
  try {
    const model = models.get(msg.model);
    if (model === undefined) throw new Error(`step thread has no model ${msg.model}`);
    const { job } = msg;
    const { forecasts, sums, kernelSeconds } = runStepJob(model, job);
    const { bytes, bounds, keyHashes } = forecasts;
    answer({ type: 'done', id: msg.id, states: job.states, histories: job.histories, known: job.known, forecasts, sums, kernelSeconds }, [
      job.states.buffer as ArrayBuffer,
      job.histories.buffer as ArrayBuffer,
      job.known.buffer as ArrayBuffer,
      bytes.buffer as ArrayBuffer,
      bounds.buffer as ArrayBuffer,
      keyHashes.buffer as ArrayBuffer,
    ]);
  } catch (err) {
    answer({ type: 'failed', id: msg.id, message: err instanceof Error ? err.message : String(err) });
  }
});
