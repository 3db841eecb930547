import { beforeAll, describe, expect, it } from 'vitest';
import { verifyRunEvents } from '../../src/protocol/index.js';
import { registerUser, request, type TestSocket } from '../../src/testing/index.js';
import { errorFor, eventOf, isRunEvent, send, settle, terminalOf, threadRuns, useScriptedApp, type Ack, type User } from './helpers/runs.js';

const server = useScriptedApp({ MAX_RUNS_PER_USER: '20' });
const { open } = server;

const TEXTS = ['calculate 12*7', 'what time is it in Asia/Tokyo', 'script:deltas 40 2', 'calculate (3+4)^2', 'script:deltas 25 1', 'what time is it in Europe/Paris'];

describe('runs: isolation between users', () => {
  it('a dozen concurrent runs of two users over four connections: each connection sees all of its user\'s runs and none of the other\'s', async () => {
    const [alice, bob] = await Promise.all([registerUser(server.app.url, 'iso-a'), registerUser(server.app.url, 'iso-b')]);
    const [a1, a2, b1, b2] = await Promise.all([open(alice), open(alice), open(bob), open(bob)]);

    // 6 runs per user, alternating between the user's two connections, all sent at once.
    const sends: Array<Promise<Ack & { owner: 'a' | 'b' }>> = [];
    TEXTS.forEach((text, i) => {
      const aSock = i % 2 === 0 ? a1 : a2;
      const bSock = i % 2 === 0 ? b2 : b1;
      sends.push(send(aSock, { id: `a-${i}`, text }).then((ack) => ({ ...ack, owner: 'a' as const })));
      sends.push(send(bSock, { id: `b-${i}`, text }).then((ack) => ({ ...ack, owner: 'b' as const })));
    });
    const acks = await Promise.all(sends);
    const runsOf = (o: 'a' | 'b'): string[] => acks.filter((a) => a.owner === o).map((a) => a.runId);
    const threadsOf = (o: 'a' | 'b'): string[] => acks.filter((a) => a.owner === o).map((a) => a.threadId);
    expect(new Set(acks.map((a) => a.runId)).size).toBe(12);
    expect(new Set(acks.map((a) => a.threadId)).size).toBe(12);

    const users = { a: { sockets: [a1, a2], other: 'b' as const }, b: { sockets: [b1, b2], other: 'a' as const } };
    for (const owner of ['a', 'b'] as const) {
      for (const ws of users[owner].sockets) {
        for (const runId of runsOf(owner)) await terminalOf(ws, runId, 15_000);
      }
    }
    await settle(300); // anything misrouted would have arrived by now

    for (const owner of ['a', 'b'] as const) {
      const [first, second] = users[owner].sockets as [TestSocket, TestSocket];
      const ownRuns = new Set(runsOf(owner));
      const ownThreads = new Set(threadsOf(owner));
      const foreignRuns = new Set(runsOf(users[owner].other));
      const foreignThreads = new Set(threadsOf(users[owner].other));
      for (const ws of [first, second]) {
        for (const runId of ownRuns) {
          const events = ws.eventsOf(runId);
          expect(verifyRunEvents(events), `run ${runId}`).toEqual([]);
          expect(events.at(-1)?.type).toBe('agent_completed');
          // Every own run was announced on every connection of its user.
          expect(ws.messages.filter((m) => m.type === 'message_added' && m.runId === runId)).toHaveLength(1);
        }
        // Nothing at all of the other user's runs or threads.
        const leaked = ws.messages.filter((m) => ('runId' in m && foreignRuns.has(m.runId)) || ('threadId' in m && foreignThreads.has(m.threadId)));
        expect(leaked).toEqual([]);
        // Every run event on this socket belongs to this user.
        for (const m of ws.messages.filter(isRunEvent)) {
          expect(ownRuns.has(m.runId)).toBe(true);
          expect(ownThreads.has(m.threadId)).toBe(true);
        }
      }
      // Both connections of the user saw exactly the same events.
      for (const runId of ownRuns) expect(first.eventsOf(runId)).toEqual(second.eventsOf(runId));
    }

    // The HTTP views are scoped too.
    const aThreads = await request<{ threads: Array<{ id: string }> }>(server.app.url, 'GET', '/threads', { token: alice.accessToken });
    expect(new Set(aThreads.body.threads.map((t) => t.id))).toEqual(new Set(threadsOf('a')));
    const bThreads = await request<{ threads: Array<{ id: string }> }>(server.app.url, 'GET', '/threads', { token: bob.accessToken });
    expect(new Set(bThreads.body.threads.map((t) => t.id))).toEqual(new Set(threadsOf('b')));
  });
});

describe('runs: another user\'s thread or run reads exactly like a missing one', () => {
  let alice: User;
  let bob: User;
  let aWs: TestSocket;
  let bWs: TestSocket;
  let finished: Ack;
  beforeAll(async () => {
    [alice, bob] = await Promise.all([registerUser(server.app.url, 'own-a'), registerUser(server.app.url, 'own-b')]);
    [aWs, bWs] = await Promise.all([open(alice), open(bob)]);
    finished = await send(aWs, { id: 'done', text: 'calculate 12*7' });
    await terminalOf(aWs, finished.runId);
  });

  const MISSING = '00000000-0000-4000-8000-000000000000';

  it('GET /threads/:id and /threads/:id/messages of A\'s thread answer B 404 not_found, byte-for-byte like a nonexistent id', async () => {
    for (const suffix of ['', '/messages']) {
      const theirs = await request(server.app.url, 'GET', `/threads/${finished.threadId}${suffix}`, { token: bob.accessToken });
      const missing = await request(server.app.url, 'GET', `/threads/${MISSING}${suffix}`, { token: bob.accessToken });
      expect(theirs.status).toBe(404);
      expect(theirs.body).toMatchObject({ error: { code: 'not_found', message: expect.any(String) } });
      expect(theirs.body).toEqual(missing.body);
      expect(missing.status).toBe(404);
    }
    // The owner still reads it.
    expect((await request(server.app.url, 'GET', `/threads/${finished.threadId}/messages`, { token: alice.accessToken })).status).toBe(200);
  });

  it('GET /runs/:id/events and POST /runs/:id/cancel of A\'s run answer B 404 like a nonexistent run, and do not cancel it', async () => {
    const live = await send(aWs, { id: 'live-http', text: 'script:sleep 30000' });
    await eventOf(aWs, live.runId, 'agent_thinking');
    for (const runId of [finished.runId, live.runId]) {
      const events = await request(server.app.url, 'GET', `/runs/${runId}/events?after=0`, { token: bob.accessToken });
      const missingEvents = await request(server.app.url, 'GET', `/runs/${MISSING}/events?after=0`, { token: bob.accessToken });
      expect(events.status).toBe(404);
      expect(events.body).toMatchObject({ error: { code: 'not_found' } });
      expect(events.body).toEqual(missingEvents.body);
      const cancel = await request(server.app.url, 'POST', `/runs/${runId}/cancel`, { token: bob.accessToken });
      const missingCancel = await request(server.app.url, 'POST', `/runs/${MISSING}/cancel`, { token: bob.accessToken });
      expect(cancel.status).toBe(404);
      expect(cancel.body).toMatchObject({ error: { code: 'not_found' } });
      expect(cancel.body).toEqual(missingCancel.body);
    }
    await settle(200);
    expect(aWs.eventsOf(live.runId).some((e) => e.type === 'run_cancelled')).toBe(false);
    expect((await threadRuns(server.app, alice, live.threadId))[0]).toMatchObject({ id: live.runId, status: 'running' });
    // Clean up as the owner.
    expect((await request(server.app.url, 'POST', `/runs/${live.runId}/cancel`, { token: alice.accessToken })).status).toBe(202);
    expect((await terminalOf(aWs, live.runId)).type).toBe('run_cancelled');
  });

  it('over WebSocket, B\'s cancel_run and resume of A\'s run get error not_found (as for a missing run) and no events', async () => {
    const live = await send(aWs, { id: 'live-ws', text: 'script:sleep 30000' });
    await eventOf(aWs, live.runId, 'agent_thinking');
    bWs.send({ type: 'cancel_run', id: 'bc', runId: live.runId });
    bWs.send({ type: 'cancel_run', id: 'bc-missing', runId: MISSING });
    bWs.send({ type: 'resume', id: 'br', runId: live.runId, afterSeq: 0 });
    bWs.send({ type: 'resume', id: 'br-done', runId: finished.runId, afterSeq: 0 });
    bWs.send({ type: 'resume', id: 'br-missing', runId: MISSING, afterSeq: 0 });
    const [cancel, cancelMissing, resume, resumeDone, resumeMissing] = await Promise.all(['bc', 'bc-missing', 'br', 'br-done', 'br-missing'].map((id) => errorFor(bWs, id)));
    expect(cancel).toMatchObject({ code: 'not_found' });
    expect(resume).toMatchObject({ code: 'not_found' });
    expect(resumeDone).toMatchObject({ code: 'not_found' });
    expect({ ...cancel, replyTo: null }).toEqual({ ...cancelMissing, replyTo: null });
    expect({ ...resume, replyTo: null }).toEqual({ ...resumeMissing, replyTo: null });
    await settle(300);
    expect(bWs.messages.filter((m) => 'runId' in m && (m.runId === live.runId || m.runId === finished.runId))).toEqual([]);
    expect(bWs.messages.some((m) => m.type === 'resumed')).toBe(false);
    // A's run was not touched.
    expect(aWs.eventsOf(live.runId).some((e) => e.type === 'run_cancelled')).toBe(false);
    aWs.send({ type: 'cancel_run', id: 'ac', runId: live.runId });
    expect((await terminalOf(aWs, live.runId)).type).toBe('run_cancelled');
  });

  it('B\'s user_message with A\'s threadId gets error not_found (as for a missing thread) and adds nothing to A\'s thread', async () => {
    const before = await request<{ messages: unknown[] }>(server.app.url, 'GET', `/threads/${finished.threadId}/messages`, { token: alice.accessToken });
    const aMessagesBefore = aWs.messages.length;
    bWs.send({ type: 'user_message', id: 'intrude', threadId: finished.threadId, text: 'calculate 1+1' });
    bWs.send({ type: 'user_message', id: 'intrude-missing', threadId: MISSING, text: 'calculate 1+1' });
    const [theirs, missing] = await Promise.all([errorFor(bWs, 'intrude'), errorFor(bWs, 'intrude-missing')]);
    expect(theirs).toMatchObject({ code: 'not_found' });
    expect({ ...theirs, replyTo: null }).toEqual({ ...missing, replyTo: null });
    await settle(300);
    expect(bWs.messages.filter((m) => m.type === 'message_accepted' && (m.replyTo === 'intrude' || m.replyTo === 'intrude-missing'))).toEqual([]);
    expect(bWs.messages.filter((m) => 'threadId' in m && m.threadId === finished.threadId)).toEqual([]);
    expect(aWs.messages.slice(aMessagesBefore)).toEqual([]);
    const after = await request<{ messages: unknown[] }>(server.app.url, 'GET', `/threads/${finished.threadId}/messages`, { token: alice.accessToken });
    expect(after.body.messages).toEqual(before.body.messages);
    expect(await threadRuns(server.app, alice, finished.threadId)).toHaveLength(1);
  });
});
