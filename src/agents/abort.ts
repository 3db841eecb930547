/**
 * Settles with `work`, or rejects with the signal's reason the moment it aborts, even when `work` ignores the
 * signal: a cancel must end a run promptly whatever the code it waits on does.
 */
export function raceAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    // The reason is whatever abort() was given: passed through untouched so callers can recognise it.
    const onAbort = (): void => reject(signal.reason as Error);
    // Always observe `work`: once we stop waiting for it, its later rejection must not go unhandled.
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
