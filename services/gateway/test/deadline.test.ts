import { describe, expect, it } from 'vitest';
import { settleWithin, within } from '../src/deadline.ts';

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

describe('within', () => {
  it('rejects with the caller\'s error at the deadline, and resolves otherwise', async () => {
    await expect(within(never, 1, () => new Error('too slow'))).rejects.toThrow('too slow');
    expect(await within(Promise.resolve('ok'), 10_000, () => new Error('too slow'))).toBe('ok');
  });
});
