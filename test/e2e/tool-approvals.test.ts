import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { verifyRunEvents, type RunEvent } from '../../src/protocol/index.js';
import type { Instance } from '../../src/testing/cluster.js';
import { describeWithServices } from '../../src/testing/describe-with-services.js';
import { createTestApp, registerUser, request, type TestSocket } from '../../src/testing/index.js';
import { useCluster } from './helpers/cluster.js';
import {
  connect,
  errorFor,
  eventOf,
  send,
  settle,
  terminalOf,
  useTestApp,
  type Established,
  type Of,
  type User,
} from './helpers/runs.js';

/** The offline agent calls the calculator for "what is ...": the tool that needs approval here. */
const MATH = 'what is 6 * 7';

function approve(app: { url: string }, user: User, runId: string, toolCallId: string, approved: unknown) {
  return request<Record<string, unknown>>(app.url, 'POST', `/runs/${runId}/approvals/${toolCallId}`, {
    token: user.accessToken,
    body: { approved },
  });
}

function expectWellFormed(events: RunEvent[]): void {
  expect(verifyRunEvents(events)).toEqual([]);
  const types = events.map((e) => e.type);
  const requested = types.indexOf('tool_approval_requested');
  const resolved = types.indexOf('tool_approval_resolved');
  expect(types.indexOf('tool_executing')).toBeLessThan(requested);
  expect(requested).toBeLessThan(resolved);
  expect(resolved).toBeLessThan(types.indexOf('tool_completed'));
}

describe('tool approvals (offline agent, calculator requires approval)', () => {
  const t = useTestApp({ TOOLS_REQUIRING_APPROVAL: 'clock, calc*', TOOL_APPROVAL_TIMEOUT_MS: '60000' });
  let user: User;
  let tab1: TestSocket;
  let tab2: TestSocket;
  beforeAll(async () => {
    user = await registerUser(t.app.url, 'approvals');
    [tab1, tab2] = await Promise.all([t.open(user), t.open(user)]);
  });

  it('asks every tab, lists the wait for a new one, and runs the tool once approved from another tab', async () => {
    const ack = await send(tab1, { id: 'a1', text: MATH });
    const asked = await eventOf(tab2, ack.runId, 'tool_approval_requested');
    const executing = await eventOf(tab1, ack.runId, 'tool_executing');
    expect(asked).toMatchObject({ toolCallId: executing.toolCallId, tool: 'calculator', args: executing.args });
    expect(asked.expiresAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    expect(Date.parse(asked.expiresAt) - Date.now()).toBeGreaterThan(50_000);
    await eventOf(tab1, ack.runId, 'tool_approval_requested');
    await settle(200);
    // Nothing runs while it waits.
    expect(tab1.eventsOf(ack.runId).map((e) => e.type)).not.toContain('tool_completed');

    const late = await t.open(user);
    const hello = (await late.next((m) => m.type === 'connection_established')) as Established;
    expect(hello.activeRuns).toEqual([
      expect.objectContaining({
        runId: ack.runId,
        pendingApprovals: [
          { toolCallId: asked.toolCallId, tool: 'calculator', args: asked.args, expiresAt: asked.expiresAt },
        ],
      }),
    ]);

    tab2.send({ type: 'approve_tool', id: 'yes', runId: ack.runId, toolCallId: asked.toolCallId, approved: true });
    await terminalOf(tab1, ack.runId);
    const events = tab1.eventsOf(ack.runId);
    expectWellFormed(events);
    expect(events.find((e) => e.type === 'tool_approval_resolved')).toMatchObject({
      toolCallId: asked.toolCallId,
      approved: true,
      reason: 'user',
    });
    expect(events.find((e) => e.type === 'tool_completed')).toMatchObject({ result: expect.anything() });
    expect(events.at(-1)).toMatchObject({ type: 'agent_completed', text: expect.stringContaining('42') });
    expect((await terminalOf(tab2, ack.runId)).type).toBe('agent_completed');
    expect(tab2.eventsOf(ack.runId)).toEqual(events);

    // Decided: a second decision, over either channel, is already_resolved.
    tab1.send({ type: 'approve_tool', id: 'again', runId: ack.runId, toolCallId: asked.toolCallId, approved: false });
    expect(await errorFor(tab1, 'again')).toMatchObject({ code: 'already_resolved' });
    const again = await approve(t.app, user, ack.runId, asked.toolCallId, true);
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ error: { code: 'already_resolved' } });
    late.close();
  });

  it('a denial over HTTP is 200; the tool does not run, the agent is told and goes on', async () => {
    const ack = await send(tab1, { id: 'd1', text: MATH });
    const asked = await eventOf(tab1, ack.runId, 'tool_approval_requested');
    const res = await approve(t.app, user, ack.runId, asked.toolCallId, false);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ runId: ack.runId, toolCallId: asked.toolCallId, approved: false });
    await terminalOf(tab1, ack.runId);
    const events = tab1.eventsOf(ack.runId);
    expectWellFormed(events);
    expect(events.find((e) => e.type === 'tool_approval_resolved')).toMatchObject({ approved: false, reason: 'user' });
    const completed = events.find((e): e is Of<'tool_completed'> => e.type === 'tool_completed');
    expect(completed?.error).toMatchObject({ code: 'approval_denied', message: expect.any(String) });
    expect(completed?.result).toBeUndefined();
    expect(events.at(-1)?.type).toBe('agent_completed');
  });

  it("another user's run, an unknown call and a bad body are refused without touching the wait; the first decision wins", async () => {
    const ack = await send(tab1, { id: 'w1', text: MATH });
    const asked = await eventOf(tab1, ack.runId, 'tool_approval_requested');
    const mallory = await registerUser(t.app.url, 'approvals-mallory');
    const theirs = await approve(t.app, mallory, ack.runId, asked.toolCallId, true);
    expect(theirs.status).toBe(404);
    expect(theirs.body).toMatchObject({ error: { code: 'not_found' } });
    const malloryWs = await connect(t.app, mallory);
    malloryWs.send({ type: 'approve_tool', id: 'm', runId: ack.runId, toolCallId: asked.toolCallId, approved: true });
    expect(await errorFor(malloryWs, 'm')).toMatchObject({ code: 'not_found' });
    malloryWs.close();
    expect((await approve(t.app, user, ack.runId, 'call_unknown', true)).status).toBe(404);
    expect((await approve(t.app, user, ack.runId, asked.toolCallId, 'yes')).status).toBe(400);
    expect((await request(t.app.url, 'POST', `/runs/${ack.runId}/approvals/${asked.toolCallId}`, {})).status).toBe(401);
    await settle(100);
    expect(tab1.eventsOf(ack.runId).map((e) => e.type)).not.toContain('tool_approval_resolved');

    // Ten decisions at once, both ways, both channels: exactly one wins and the run follows it.
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => approve(t.app, user, ack.runId, asked.toolCallId, i % 2 === 0)),
    );
    const winners = answers.filter((a) => a.status === 200);
    expect(winners).toHaveLength(1);
    expect(answers.filter((a) => a.status === 409)).toHaveLength(9);
    await terminalOf(tab1, ack.runId);
    const resolved = tab1.eventsOf(ack.runId).filter((e) => e.type === 'tool_approval_resolved');
    expect(resolved).toEqual([expect.objectContaining({ approved: winners[0]?.body.approved, reason: 'user' })]);
  });

  it('cancelling the run while it waits resolves the wait as cancelled and ends run_cancelled', async () => {
    const ack = await send(tab1, { id: 'c1', text: MATH });
    const asked = await eventOf(tab1, ack.runId, 'tool_approval_requested');
    tab1.send({ type: 'cancel_run', runId: ack.runId });
    await terminalOf(tab1, ack.runId);
    const events = tab1.eventsOf(ack.runId);
    expectWellFormed(events);
    expect(events.find((e) => e.type === 'tool_approval_resolved')).toMatchObject({
      approved: false,
      reason: 'cancelled',
    });
    expect(events.find((e) => e.type === 'tool_completed')).toMatchObject({ error: { code: 'cancelled' } });
    expect(events.at(-1)?.type).toBe('run_cancelled');
    expect((await approve(t.app, user, ack.runId, asked.toolCallId, true)).status).toBe(409);
  });
});

describe('tool approvals: expiry and the run clock', () => {
  const t = useTestApp({
    TOOLS_REQUIRING_APPROVAL: 'calculator',
    TOOL_APPROVAL_TIMEOUT_MS: '1500',
    RUN_MAX_DURATION_MS: '1000',
  });

  it('a wait nobody answers expires (approval_expired) and its time does not count against RUN_MAX_DURATION_MS', async () => {
    const user = await registerUser(t.app.url, 'approvals-expiry');
    const ws = await t.open(user);
    const ack = await send(ws, { id: 'e1', text: MATH });
    const asked = await eventOf(ws, ack.runId, 'tool_approval_requested');
    const started = Date.now();
    await terminalOf(ws, ack.runId, 5_000);
    expect(Date.now() - started).toBeGreaterThan(1_200);
    const events = ws.eventsOf(ack.runId);
    expectWellFormed(events);
    expect(events.find((e) => e.type === 'tool_approval_resolved')).toMatchObject({
      toolCallId: asked.toolCallId,
      approved: false,
      reason: 'expired',
    });
    expect(events.find((e) => e.type === 'tool_completed')).toMatchObject({ error: { code: 'approval_expired' } });
    // The run lived 1.5 s, past its 1 s limit, because the wait was not its own time.
    expect(events.at(-1)?.type).toBe('agent_completed');
    expect((await approve(t.app, user, ack.runId, asked.toolCallId, true)).body).toMatchObject({
      error: { code: 'already_resolved' },
    });
  });

  it('an approval late in the wait still lets the run finish within its own time', async () => {
    const user = await registerUser(t.app.url, 'approvals-clock');
    const ws = await t.open(user);
    const ack = await send(ws, { id: 'k1', text: MATH });
    const asked = await eventOf(ws, ack.runId, 'tool_approval_requested');
    await settle(1_200);
    expect((await approve(t.app, user, ack.runId, asked.toolCallId, true)).status).toBe(200);
    const end = await terminalOf(ws, ack.runId);
    expect(end).toMatchObject({ type: 'agent_completed', text: expect.stringContaining('42') });
  });
});

describe('tool approvals: the server stops while a run waits', () => {
  it('the run ends interrupted, its wait cancelled, and a later decision is already_resolved', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'agentgate-approvals-'));
    const env = { DATA_DIR: dataDir, TOOLS_REQUIRING_APPROVAL: 'calculator' };
    try {
      const first = await createTestApp(env);
      const user = await registerUser(first.url, 'approvals-restart');
      const ws = await connect(first, user);
      const ack = await send(ws, { id: 'r1', text: MATH });
      const asked = await eventOf(ws, ack.runId, 'tool_approval_requested');
      await first.close();
      const second = await createTestApp(env);
      try {
        const res = await request<{ events: RunEvent[]; status: string }>(
          second.url,
          'GET',
          `/runs/${ack.runId}/events`,
          { token: user.accessToken },
        );
        expect(res.body.status).toBe('interrupted');
        expectWellFormed(res.body.events);
        expect(res.body.events.find((e) => e.type === 'tool_approval_resolved')).toMatchObject({ reason: 'cancelled' });
        expect(res.body.events.at(-1)).toMatchObject({ type: 'agent_error', code: 'interrupted' });
        expect((await approve(second, user, ack.runId, asked.toolCallId, true)).status).toBe(409);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describeWithServices(['postgres', 'redis'], 'tool approvals across instances (PostgreSQL + Redis)', () => {
  const cluster = useCluster(2, { TOOLS_REQUIRING_APPROVAL: 'calculator', INSTANCE_LEASE_MS: '2000' });
  let a: Instance;
  let b: Instance;
  beforeAll(() => {
    [a, b] = cluster.instances as [Instance, Instance];
  });

  it('a run waiting on one instance is listed and decided on the other, over HTTP and over its socket', async () => {
    const user = await registerUser(a.url, 'approvals-cluster');
    const onA = await cluster.open(a, user);
    const first = await send(onA, { id: 'x1', text: MATH });
    const asked = await eventOf(onA, first.runId, 'tool_approval_requested');
    const onB = await cluster.open(b, user);
    const hello = (await onB.next((m) => m.type === 'connection_established')) as Established;
    expect(hello.activeRuns).toEqual([
      expect.objectContaining({
        runId: first.runId,
        pendingApprovals: [expect.objectContaining({ toolCallId: asked.toolCallId, tool: 'calculator' })],
      }),
    ]);
    // A run under way when a socket connects reaches it once it resumes (CONTRACT: activeRuns).
    onB.send({ type: 'resume', runId: first.runId, afterSeq: 0 });
    expect((await approve(b, user, first.runId, asked.toolCallId, true)).status).toBe(200);
    expect(await terminalOf(onA, first.runId)).toMatchObject({ type: 'agent_completed' });
    expect(await terminalOf(onB, first.runId)).toMatchObject({ type: 'agent_completed' });
    expectWellFormed(onA.eventsOf(first.runId));

    const second = await send(onA, { id: 'x2', text: MATH });
    const asked2 = await eventOf(onB, second.runId, 'tool_approval_requested');
    onB.send({ type: 'approve_tool', runId: second.runId, toolCallId: asked2.toolCallId, approved: false });
    await terminalOf(onA, second.runId);
    expect(onA.eventsOf(second.runId).find((e) => e.type === 'tool_completed')).toMatchObject({
      error: { code: 'approval_denied' },
    });
    expect((await approve(a, user, second.runId, asked2.toolCallId, true)).status).toBe(409);
  });
});
