/** The outcome of {@link settleWithin}: the promise's value, or that the deadline came first. */
export type Settled<T> = { readonly done: true; readonly value: T } | { readonly done: false };

/**
 * Races a promise against a deadline of `ms`. The loser is not cancelled,
 * only no longer awaited; a rejection before the deadline is passed on.
 */
export async function settleWithin<T>(promise: Promise<T>, ms: number): Promise<Settled<T>> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<Settled<T>>((resolve) => {
    timer = setTimeout(() => resolve({ done: false }), ms);
  });
  try {
    return await Promise.race([promise.then((value): Settled<T> => ({ done: true, value })), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
