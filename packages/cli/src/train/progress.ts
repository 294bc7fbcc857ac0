import type { TrainProgress } from '@streamcell/rnn';

/** Receives the trainer's progress callbacks and shows them to a person. */
export interface ProgressView {
  update(p: TrainProgress): void;
  /** Ends the live line (if any) so later output starts on a fresh line. */
  done(): void;
}

/** Duration as `1h02m`, `3m05s` or `12s`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

function loss(v: number | undefined): string {
  return v === undefined ? '-' : v.toPrecision(4);
}

/** Time left, from the batches done so far across all epochs (early stopping may end sooner). */
function eta(p: TrainProgress): number {
  const done = (p.epoch - 1) * p.batches + p.batch;
  const total = p.epochs * p.batches;
  return done === 0 ? Number.NaN : (p.elapsedMs / done) * (total - done);
}

/**
 * A live bar on a terminal: one line rewritten in place (at most ten times a
 * second, so drawing never slows training), showing epoch, batch, the
 * epoch's running loss, the last validation loss and the time left. Each
 * finished epoch also leaves a line behind, so the curve stays readable in
 * the scrollback.
 */
export function terminalProgress(stream: NodeJS.WritableStream, withValidation: boolean, columns = 100): ProgressView {
  let lastDraw = 0;
  let lastValidation: number | undefined;
  let drawn = false;
  const clear = (): void => {
    if (drawn) stream.write('\r\x1b[2K');
    drawn = false;
  };
  return {
    update(p) {
      const epochEnd = withValidation ? p.validationLoss !== undefined : p.batch === p.batches;
      if (p.validationLoss !== undefined) lastValidation = p.validationLoss;
      const now = Date.now();
      if (!epochEnd && now - lastDraw < 100) return;
      lastDraw = now;
      const barWidth = 24;
      const fraction = p.batches === 0 ? 1 : p.batch / p.batches;
      const filled = Math.round(fraction * barWidth);
      const bar = `${'█'.repeat(filled)}${'░'.repeat(barWidth - filled)}`;
      const width = String(p.epochs).length;
      const text =
        `epoch ${String(p.epoch).padStart(width)}/${p.epochs} ${bar} batch ${p.batch}/${p.batches}` +
        `  loss ${loss(p.loss)}  val ${loss(lastValidation)}  ETA ${formatDuration(eta(p))}`;
      clear();
      if (epochEnd) {
        stream.write(`epoch ${String(p.epoch).padStart(width)}/${p.epochs}  loss ${loss(p.loss)}  val ${loss(p.validationLoss)}  ${formatDuration(p.elapsedMs)}\n`);
        return;
      }
      stream.write(text.slice(0, Math.max(20, columns - 1)));
      drawn = true;
    },
    done() {
      clear();
    },
  };
}

/**
 * Plain lines for logs and pipes: one per finished epoch, never a carriage
 * return. An epoch is finished at its last batch, or when its validation
 * loss arrives if there is one.
 */
export function lineProgress(stream: NodeJS.WritableStream, withValidation: boolean): ProgressView {
  return {
    update(p) {
      const finished = withValidation ? p.validationLoss !== undefined : p.batch === p.batches;
      if (!finished) return;
      const val = p.validationLoss === undefined ? '' : ` validation_loss=${loss(p.validationLoss)}`;
      stream.write(
        `epoch ${p.epoch}/${p.epochs} batches=${p.batches} loss=${loss(p.loss)}${val} elapsed=${formatDuration(p.elapsedMs)} eta=${formatDuration(eta(p))}\n`,
      );
    },
    done() {},
  };
}
