import { describe, expect, it } from 'vitest';
import { settleWithin } from '../src/deadline.ts';

const never = new Promise<number>(() => {});

describe('settleWithin', () => {
  it('gives the value when the promise settles first', async () => {
    expect(await settleWithin(Promise.resolve(7), 10_000)).toEqual({ done: true, value: 7 });
  });

  it('says the deadline came first for a promise that never settles', async () => {
    expect(await settleWithin(never, 1)).toEqual({ done: false });
  });

  it('passes a rejection on', async () => {
    await expect(settleWithin(Promise.reject(new Error('broker down')), 10_000)).rejects.toThrow('broker down');
  });
});
