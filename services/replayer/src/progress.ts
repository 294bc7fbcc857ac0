/**
 * The progress a replay reports: on a terminal one line rewritten in place
 * a few times a second, elsewhere (compose logs, CI, pipes) a plain line
 * every interval, so logs are not flooded with carriage returns.
 */

/** A snapshot of a running replay. */
export interface ReplayProgress {
  readonly elapsedMs: number;
  /** Events acknowledged by Kafka. */
  readonly sent: number;
  /** Events whose send failed for good. */
  readonly errors: number;
  /** Events handed to the producer and not yet acknowledged or failed. */
  readonly inFlight: number;
  readonly targetRate: number;
  /** Acknowledged events per second over the recent window. */
  readonly recentRate: number;
  /** Acknowledged events per second since the start. */
  readonly overallRate: number;
  /** 1-based pass over the data. */
  readonly pass: number;
}

const fmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** One human line for a snapshot. */
export function formatProgress(p: ReplayProgress): string {
  const seconds = (p.elapsedMs / 1000).toFixed(0).padStart(4);
  return `${seconds} s  sent ${fmt.format(p.sent)}  rate ${fmt.format(p.recentRate)}/s (target ${fmt.format(p.targetRate)}/s, overall ${fmt.format(p.overallRate)}/s)  errors ${fmt.format(p.errors)}  in flight ${fmt.format(p.inFlight)}  pass ${p.pass}`;
}

/** Writes progress to a stream: live on a TTY, periodic plain lines otherwise. */
export class ProgressPrinter {
  readonly #out: NodeJS.WritableStream & { isTTY?: boolean };
  readonly #intervalMs: number;
  readonly #live: boolean;
  #lastPrint: number | undefined;

  constructor(out: NodeJS.WritableStream & { isTTY?: boolean }, intervalMs: number) {
    this.#out = out;
    this.#live = out.isTTY === true;
    this.#intervalMs = this.#live ? 250 : intervalMs;
  }

  /** How often {@link update} should be called, ms. */
  get tickMs(): number {
    return this.#live ? 250 : Math.min(1000, this.#intervalMs);
  }

  /** Prints `p` if a line is due. */
  update(p: ReplayProgress, now: number): void {
    // The first call sets the clock, so lines fall on whole intervals of the run.
    this.#lastPrint ??= now - p.elapsedMs;
    if (now - this.#lastPrint < this.#intervalMs) return;
    this.#lastPrint = now - ((now - this.#lastPrint) % this.#intervalMs);
    if (this.#live) {
      // \x1b[K clears what a longer previous line left behind.
      this.#out.write(`\r${formatProgress(p)}\x1b[K`);
    } else {
      this.#out.write(`${formatProgress(p)}\n`);
    }
  }

  /** Ends the live line so that what follows starts on its own line. */
  finish(p: ReplayProgress): void {
    if (this.#live) this.#out.write(`\r${formatProgress(p)}\x1b[K\n`);
    else this.#out.write(`${formatProgress(p)}\n`);
  }
}
