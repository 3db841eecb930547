import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentgateClient, RunEvent, RunHandle } from '../../src/client/node.js';
import { verifyRunEvents } from '../../src/protocol/index.js';
import { createTestApp, type TestApp } from '../../src/testing/index.js';
import { clientOf, collect, PASSWORD, recordEvents, uniqueEmail, until } from './helpers.js';

/** The offline agent calls the calculator for this, and the calculator waits for approval here. */
const MATH = 'what is 6 * 7';

type Of<T extends RunEvent['type']> = Extract<RunEvent, { type: T }>;

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp({ TOOLS_REQUIRING_APPROVAL: 'calculator' });
});
afterAll(async () => {
  await app?.close();
});

async function signedIn(email = uniqueEmail('sdk-approvals')): Promise<AgentgateClient> {
  const client = clientOf(app);
  await client.register(email, PASSWORD);
  await client.connect();
  return client;
}

/** The handle's events up to its tool_approval_requested (the iterator keeps the rest for a later loop). */
async function requestOf(handle: RunHandle): Promise<Of<'tool_approval_requested'>> {
  for await (const event of handle) if (event.type === 'tool_approval_requested') return event;
  throw new Error('the run ended without asking for approval');
}

function expectApprovalOrder(events: readonly RunEvent[]): void {
  expect(verifyRunEvents(events)).toEqual([]);
  const types = events.map((e) => e.type);
  expect(types.filter((t) => t.startsWith('tool_'))).toEqual([
    'tool_executing',
    'tool_approval_requested',
    'tool_approval_resolved',
    'tool_completed',
  ]);
}

const find = <T extends RunEvent['type']>(events: readonly RunEvent[], type: T): Of<T> | undefined =>
  events.find((e): e is Of<T> => e.type === type);

describe('SDK: approve() over the socket', () => {
  it('approve: resolves once tool_approval_resolved is in; the iterator yields the approval events in order and the run answers 42', async () => {
    const client = await signedIn();
    const seen = recordEvents(client);
    try {
      const handle = client.run(MATH);
      const asked = await requestOf(handle);
      const { runId } = await handle.accepted;
      expect(asked).toMatchObject({ tool: 'calculator', args: { expression: '6 * 7' } });
      expect(Date.parse(asked.expiresAt)).toBeGreaterThan(Date.now());

      await client.approve(runId, asked.toolCallId, true);
      // Resolved means the run's own answer is already delivered.
      expect(find(seen.get(runId) ?? [], 'tool_approval_resolved')).toMatchObject({
        toolCallId: asked.toolCallId,
        approved: true,
        reason: 'user',
      });

      const events = await collect(handle);
      expectApprovalOrder(events);
      expect(find(events, 'tool_completed')).toMatchObject({ toolCallId: asked.toolCallId, result: expect.anything() });
      const done = await handle.done;
      expect(done.type).toBe('agent_completed');
      expect(done.type === 'agent_completed' && done.text).toContain('42');
      expect(await client.runEvents(runId)).toEqual(events);
    } finally {
      client.close();
    }
  });

  it('deny: the tool does not run (tool_completed error approval_denied) and the run still completes', async () => {
    const client = await signedIn();
    try {
      const handle = client.run(MATH);
      const asked = await requestOf(handle);
      await client.approve((await handle.accepted).runId, asked.toolCallId, false);
      const events = await collect(handle);
      expectApprovalOrder(events);
      expect(find(events, 'tool_approval_resolved')).toMatchObject({ approved: false, reason: 'user' });
      const completed = find(events, 'tool_completed');
      expect(completed?.error).toMatchObject({ code: 'approval_denied' });
      expect(completed?.result).toBeUndefined();
      expect((await handle.done).type).toBe('agent_completed');
    } finally {
      client.close();
    }
  });

  it('a second decision rejects already_resolved; an unknown call and an unknown run reject not_found', async () => {
    const client = await signedIn();
    try {
      const handle = client.run(MATH);
      const asked = await requestOf(handle);
      const { runId } = await handle.accepted;
      await expect(client.approve(runId, 'call_unknown', true)).rejects.toMatchObject({
        name: 'ClientError',
        code: 'not_found',
      });
      await expect(client.approve('run_unknown', asked.toolCallId, true)).rejects.toMatchObject({ code: 'not_found' });

      await client.approve(runId, asked.toolCallId, true);
      await expect(client.approve(runId, asked.toolCallId, false)).rejects.toMatchObject({ code: 'already_resolved' });
      expect((await handle.done).type).toBe('agent_completed');
      // After the run ended too, and the first decision is what happened.
      await expect(client.approve(runId, asked.toolCallId, false)).rejects.toMatchObject({ code: 'already_resolved' });
      expect(find(await collect(handle), 'tool_approval_resolved')).toMatchObject({ approved: true });
    } finally {
      client.close();
    }
  });

  it('another device of the user sees the waiting call (activeRuns replay) and its decision reaches the first', async () => {
    const email = uniqueEmail('sdk-approvals-2');
    const first = await signedIn(email);
    const second = clientOf(app);
    try {
      const handle = first.run(MATH);
      const asked = await requestOf(handle);
      await second.login(email, PASSWORD);
      const seen = recordEvents(second);
      await second.connect();
      const { runId } = await handle.accepted;
      await until(() => find(seen.get(runId) ?? [], 'tool_approval_requested') !== undefined, 'the replayed request');
      expect(find(seen.get(runId) ?? [], 'tool_approval_requested')).toEqual(asked);

      await second.approve(runId, asked.toolCallId, false);
      const events = await collect(handle);
      expect(find(events, 'tool_completed')?.error).toMatchObject({ code: 'approval_denied' });
      await expect(first.approve(runId, asked.toolCallId, true)).rejects.toMatchObject({ code: 'already_resolved' });
    } finally {
      first.close();
      second.close();
    }
  });
});

describe('SDK: approve() without a socket (POST /runs/:id/approvals/:toolCallId)', () => {
  it('a client that is not connected decides over HTTP; errors carry the HTTP status', async () => {
    const email = uniqueEmail('sdk-approvals-http');
    const runner = await signedIn(email);
    const offline = clientOf(app);
    try {
      await offline.login(email, PASSWORD);
      const handle = runner.run(MATH);
      const asked = await requestOf(handle);
      const { runId } = await handle.accepted;
      await expect(offline.approve(runId, 'call_unknown', true)).rejects.toMatchObject({
        code: 'not_found',
        status: 404,
      });
      await offline.approve(runId, asked.toolCallId, true);
      expect(offline.state).toBe('idle');
      await expect(offline.approve(runId, asked.toolCallId, true)).rejects.toMatchObject({
        code: 'already_resolved',
        status: 409,
      });
      const done = await handle.done;
      expect(done.type === 'agent_completed' && done.text).toContain('42');
    } finally {
      runner.close();
      offline.close();
    }
  });
});
