import { setTimeout as delay } from 'node:timers/promises';
import type { AgentgateClient as UniversalClient } from '../../src/client/index.js';
import {
  AgentgateClient,
  type ClientOptions,
  type ConnectionState,
  type RunEvent,
  type StateDetail,
} from '../../src/client/node.js';
import type { TestApp } from '../../src/testing/index.js';

let counter = 0;
export const PASSWORD = 'correct horse battery';

/** A fresh email per call. */
export function uniqueEmail(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now()}-${++counter}@example.com`;
}

/** A Node client of `app` with quick reconnects (tests drop sockets on purpose). */
export function clientOf(app: TestApp, options: Partial<ClientOptions> = {}): AgentgateClient {
  return new AgentgateClient({
    baseUrl: app.url,
    reconnect: { initialDelayMs: 50, maxDelayMs: 400, maxAttempts: 10 },
    ...options,
  });
}

/** Records every state change of a client, with its detail. */
export function recordStates(client: UniversalClient): Array<{ state: ConnectionState; detail?: StateDetail }> {
  const log: Array<{ state: ConnectionState; detail?: StateDetail }> = [];
  client.onStateChange((state, detail) => log.push({ state, ...(detail === undefined ? {} : { detail }) }));
  return log;
}

/** Every event onEvent delivers, by run. */
export function recordEvents(client: UniversalClient): Map<string, RunEvent[]> {
  const byRun = new Map<string, RunEvent[]>();
  client.onEvent((e) => byRun.set(e.runId, [...(byRun.get(e.runId) ?? []), e]));
  return byRun;
}

export async function collect(events: AsyncIterable<RunEvent>): Promise<RunEvent[]> {
  const out: RunEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

/** Polls `check` until it is true (or fails the test after `timeoutMs`). */
export async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(10);
  }
}

export const seqsOf = (events: readonly RunEvent[]): number[] => events.map((e) => e.seq);
export const oneToN = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);
