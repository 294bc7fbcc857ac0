/**
 * Rate control by count, not by sleeping a fixed gap per event: by time t
 * after the start, `floor(rate * t)` events are due. The loop sends what is
 * due whenever it wakes, so late timers, GC pauses and slow acks are made up
 * on the next wake and the average over any long window stays on the rate.
 * After a long stall (an outage) the debt is capped at `maxBurstSeconds` of
 * events, so a recovered replayer does not flood the topic.
 */
export class Pacer {
  readonly rate: number;
  readonly #maxBurst: number;
  #start: number;
  #base = 0;

  constructor(rate: number, now: number, maxBurstSeconds = 1) {
    this.rate = rate;
    this.#start = now;
    this.#maxBurst = Math.max(1, Math.ceil(rate * maxBurstSeconds));
  }

  /** Events that may be released now, given `released` so far. */
  due(now: number, released: number): number {
    let allowed = this.#base + Math.floor(((now - this.#start) * this.rate) / 1000);
    if (allowed - released > this.#maxBurst) {
      // Forgive the debt beyond one burst: restart the schedule from here.
      this.#start = now;
      this.#base = released + this.#maxBurst;
      allowed = this.#base;
    }
    return Math.max(0, allowed - released);
  }

  /** Milliseconds until event number `released + 1` is due (0 when it already is). */
  waitMs(now: number, released: number): number {
    const dueAt = this.#start + ((released + 1 - this.#base) * 1000) / this.rate;
    return Math.max(0, dueAt - now);
  }
}
