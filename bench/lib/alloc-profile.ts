/**
 * V8's sampling heap profiler, counting what was allocated and then collected as well (by default it keeps only
 * what is still alive at the end, which hides the garbage that a hot path makes): for `profile --alloc`.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

export interface AllocationProfiler {
  /** Writes the profile (.heapprofile, opens in Chrome DevTools' Memory panel) and stops sampling. */
  stop(file: string): Promise<void>;
}

export async function startAllocationProfiler(): Promise<AllocationProfiler> {
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 16_384,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  return {
    async stop(file) {
      const { profile } = await session.post('HeapProfiler.stopSampling');
      writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
    },
  };
}

interface AllocationNode {
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly selfSize: number;
  readonly children: readonly AllocationNode[];
}

/** Bytes allocated per function (self), largest first. */
export function allocationsByFunction(profile: { readonly head: AllocationNode }): Map<string, number> {
  const bytes = new Map<string, number>();
  const visit = (node: AllocationNode): void => {
    const f = node.callFrame;
    const where =
      f.url === ''
        ? ''
        : `${f.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(dist|src|bench)\//, '$1/')}:${f.lineNumber + 1}`;
    const key = `${f.functionName === '' ? '(anonymous)' : f.functionName}  ${where}`;
    if (node.selfSize > 0) bytes.set(key, (bytes.get(key) ?? 0) + node.selfSize);
    for (const child of node.children) visit(child);
  };
  visit(profile.head);
  return new Map([...bytes].sort((a, b) => b[1] - a[1]));
}
