import { setTimeout as sleep } from 'node:timers/promises';

/** How long a run's end is retried while storage is down, before the run is left to orphan recovery. */
export const LATE_STORE_MS = 30_000;

/**
 * Runs `write` until it succeeds, backing off from 100 ms to 2 s, for at most `giveUpAfterMs`: the end of a run is
 * stored once storage is back. `isFinal` errors stop at once (someone else stored it). True when it was stored.
 */
export async function untilStored(
  write: () => Promise<void>,
  options: { readonly giveUpAfterMs?: number; readonly isFinal?: (err: unknown) => boolean } = {},
): Promise<boolean> {
  const giveUpAt = Date.now() + (options.giveUpAfterMs ?? LATE_STORE_MS);
  for (let delay = 100; ; delay = Math.min(delay * 2, 2_000)) {
    try {
      await write();
      return true;
    } catch (err) {
      if (options.isFinal?.(err) === true || Date.now() + delay > giveUpAt) return false;
    }
    await sleep(delay);
  }
}
