import { z } from 'zod';
import { defineTool } from './tool.js';

const waitParameters = z.object({
  seconds: z.number().min(0).max(120).describe('How long to wait, in seconds (0 to 120).'),
});

/** Resolves after `ms`, or rejects with the signal's reason the moment it is aborted (and frees its timer). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export const waitTool = defineTool({
  name: 'wait',
  description: 'Waits for a number of seconds (at most 120) and then returns. Stops at once if the run is cancelled.',
  parameters: waitParameters,
  execute: async ({ seconds }, ctx) => {
    await sleep(seconds * 1000, ctx.signal);
    return { waitedSeconds: seconds };
  },
});
