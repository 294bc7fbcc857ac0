import { describe, expect, it } from 'vitest';
import { sendAsGroup, type GroupMember } from '../src/group-request.ts';

interface Part extends GroupMember {
  readonly name: string;
  outcome?: string;
}

function part(name: string): Part {
  const p: Part = {
    name,
    resolve: () => {
      p.outcome = 'ok';
    },
    reject: (err) => {
      p.outcome = `failed: ${(err as Error).message}`;
    },
  };
  return p;
}

describe('sendAsGroup', () => {
  it('sends all parts in one request and resolves each', async () => {
    const requests: string[][] = [];
    const group = ['a', 'b', 'c'].map(part);
    await sendAsGroup(group, (parts) => {
      requests.push(parts.map((p) => p.name));
      return Promise.resolve();
    });
    expect(requests).toEqual([['a', 'b', 'c']]);
    expect(group.map((p) => p.outcome)).toEqual(['ok', 'ok', 'ok']);
  });

  it('after a merged failure sends each part alone, so only the bad one fails', async () => {
    const requests: string[][] = [];
    const group = ['a', 'bad', 'c'].map(part);
    await sendAsGroup(group, (parts) => {
      requests.push(parts.map((p) => p.name));
      return parts.some((p) => p.name === 'bad') ? Promise.reject(new Error(`request of ${parts.length}`)) : Promise.resolve();
    });
    expect(requests).toEqual([['a', 'bad', 'c'], ['a'], ['bad'], ['c']]);
    expect(group.map((p) => p.outcome)).toEqual(['ok', 'failed: request of 1', 'ok']);
  });

  it('gives every part a failure that concerns them all at once, without sending each again', async () => {
    let calls = 0;
    const group = ['a', 'b', 'c'].map(part);
    await sendAsGroup(
      group,
      () => {
        calls += 1;
        return Promise.reject(new Error('rebalancing'));
      },
      (err) => (err as Error).message === 'rebalancing',
    );
    expect(calls).toBe(1);
    expect(group.map((p) => p.outcome)).toEqual(['failed: rebalancing', 'failed: rebalancing', 'failed: rebalancing']);
  });

  it('gives a lone part its failure without sending it again', async () => {
    let calls = 0;
    const only = part('only');
    await sendAsGroup([only], () => {
      calls += 1;
      return Promise.reject(new Error('broker down'));
    });
    expect(calls).toBe(1);
    expect(only.outcome).toBe('failed: broker down');
  });
});
