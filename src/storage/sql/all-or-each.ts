/**
 * Stores a batch in one statement; if that fails, each item alone, side by side, so only the guilty ones fail (and
 * an outage costs one wait, not one per item). One item is stored alone at once. Settles with each item's outcome.
 */
export async function allOrEach<T>(
  batch: readonly T[],
  all: (items: readonly T[]) => Promise<unknown>,
  each: (item: T) => Promise<unknown>,
): Promise<PromiseSettledResult<unknown>[]> {
  if (batch.length > 1) {
    try {
      await all(batch);
      return batch.map(() => ({ status: 'fulfilled', value: undefined }));
    } catch {
      // Retried below, one by one.
    }
  }
  return Promise.allSettled(batch.map(each));
}
