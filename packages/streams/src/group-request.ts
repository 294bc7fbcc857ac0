/** A caller waiting for its part of a merged request. */
export interface GroupMember {
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/**
 * Sends the parts of `group` as one request. When that fails, each part is
 * sent again on its own, so that a failure reaches only the callers it
 * belongs to (a lone part gets the first failure as is), unless `shared`
 * says the failure would be the same for every part (then all get it at
 * once, without more requests). Every member is settled once this returns;
 * it never throws.
 */
export async function sendAsGroup<T extends GroupMember>(group: readonly T[], send: (parts: readonly T[]) => Promise<void>, shared: (err: unknown) => boolean = () => false): Promise<void> {
  try {
    await send(group);
    for (const m of group) m.resolve();
  } catch (err) {
    if (group.length === 1 || shared(err)) {
      for (const m of group) m.reject(err);
      return;
    }
    for (const m of group) {
      try {
        await send([m]);
        m.resolve();
      } catch (own) {
        m.reject(own);
      }
    }
  }
}
