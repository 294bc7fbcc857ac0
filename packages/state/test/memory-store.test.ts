import { describe } from 'vitest';
import { MemoryStateStore } from '../src/index.ts';
import { stateStoreContract } from './store-contract.ts';

describe('MemoryStateStore', () => {
  stateStoreContract(() => ({ store: new MemoryStateStore(), prefix: 'mem:' }));
});
