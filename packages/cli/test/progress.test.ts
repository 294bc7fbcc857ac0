import { describe, expect, it } from 'vitest';
import type { TrainProgress } from '@streamcell/rnn';
import { formatDuration, lineProgress, terminalProgress } from '../src/train/progress.ts';
import { collector } from './helpers.ts';

const sink = collector;

/** The callbacks train() makes for 2 epochs of 3 batches, validation loss on each epoch's last. */
function run(withValidation: boolean): TrainProgress[] {
  const out: TrainProgress[] = [];
  for (let epoch = 1; epoch <= 2; epoch++) {
    for (let batch = 1; batch <= 3; batch++) {
      const last = batch === 3;
      out.push({
        epoch,
        epochs: 2,
        batch,
        batches: 3,
        loss: 1 / (epoch * batch),
        elapsedMs: ((epoch - 1) * 3 + batch) * 1000,
        ...(last && withValidation ? { validationLoss: 0.5 / epoch } : {}),
      });
    }
  }
  return out;
}

describe('progress', () => {
  it('plain lines: one per finished epoch, with the validation loss and no carriage return', () => {
    const out = sink();
    const view = lineProgress(out.stream, true);
    for (const p of run(true)) view.update(p);
    view.done();
    const lines = out.text().trimEnd().split('\n');
    expect(lines).toEqual([
      'epoch 1/2 batches=3 loss=0.3333 validation_loss=0.5000 elapsed=3s eta=3s',
      'epoch 2/2 batches=3 loss=0.1667 validation_loss=0.2500 elapsed=6s eta=0s',
    ]);
    expect(out.text()).not.toContain('\r');
  });

  it('plain lines without validation end an epoch at its last batch', () => {
    const out = sink();
    const view = lineProgress(out.stream, false);
    for (const p of run(false)) view.update(p);
    expect(out.text().trimEnd().split('\n')).toHaveLength(2);
    expect(out.text()).not.toContain('validation_loss');
  });

  it('a terminal gets a bar rewritten in place and one line left per epoch', () => {
    const out = sink();
    const view = terminalProgress(out.stream, true, 120);
    for (const p of run(true)) view.update(p);
    view.done();
    const text = out.text();
    // The first batch is drawn (nothing drawn before it); later ones within 100 ms are skipped.
    expect(text).toContain('epoch 1/2 ████████░░░░░░░░░░░░░░░░ batch 1/3  loss 1.000  val -  ETA 5s');
    expect(text).toContain('\r\x1b[2K');
    const kept = text.split('\n').map((l) => l.slice(l.lastIndexOf('\x1b[2K') + 1).replace(/^\[2K/, ''));
    expect(kept.filter((l) => l.startsWith('epoch ') && l.includes('val 0.'))).toEqual(['epoch 1/2  loss 0.3333  val 0.5000  3s', 'epoch 2/2  loss 0.1667  val 0.2500  6s']);
    // done() leaves the cursor on a clean line: nothing follows the last newline.
    expect(text.endsWith('\n')).toBe(true);
  });

  it('cuts the live line to the terminal width', () => {
    const out = sink();
    const view = terminalProgress(out.stream, true, 30);
    view.update(run(true)[0]!);
    expect(out.text()).toHaveLength(29);
  });

  it('formats durations', () => {
    expect(formatDuration(12_400)).toBe('12s');
    expect(formatDuration(185_000)).toBe('3m05s');
    expect(formatDuration(3_720_000)).toBe('1h02m');
    expect(formatDuration(Number.NaN)).toBe('?');
  });
});
