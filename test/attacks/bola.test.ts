import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTerminalEvent, verifyRunEvents, type ServerMessage } from '../../src/protocol/index.js';
import { createTestApp, registerUser, request, TestSocket, wsUrl, type TestApp } from '../../src/testing/index.js';
import {
  errorFor,
  eventOf,
  isRunEvent,
  send,
  settle,
  terminalOf,
  threadRuns,
  useScriptedApp,
  type Ack,
  type Established,
  type User,
} from '../e2e/helpers/runs.js';
import { abortOpenStreams, endOf, ids, refused, sse } from '../e2e/helpers/sse.js';
import { brokenFrames, hostileText, materialize, MISSING_ID, rawAbuse, rawRequest } from './helpers/identity.js';

/**
 * OWASP API Security Top 10 (2023) API1 Broken Object Level Authorization / CWE-639 (authorization bypass through a
 * user-controlled key). Every route and message that takes an object id checks that the object is the caller's:
 * another user's thread or run answers exactly like one that does not exist (CONTRACT "HTTP API": 404 `not_found`,
 * never 403; CONTRACT "WebSocket": `error` `not_found`, "the same answer for both", and no events) and changes
 * nothing. A run's events go to every open connection of its user "and to no one else, ever".
 */

const server = useScriptedApp({ MAX_RUNS_PER_USER: '20' });
const { open } = server;
afterAll(abortOpenStreams);

const TEXTS = [
  'calculate 12*7',
  'what time is it in Asia/Tokyo',
  'script:deltas 40 2',
  'calculate (3+4)^2',
  'script:deltas 25 1',
  'what time is it in Europe/Paris',
];

describe('BOLA: run events reach the connections of their user only', () => {
  it('[CONTRACT WebSocket "to no one else, ever"] a dozen concurrent runs of two users over four connections: each connection sees all of its user\'s runs and none of the other\'s', async () => {
    const [alice, bob] = await Promise.all([
      registerUser(server.app.url, 'iso-a'),
      registerUser(server.app.url, 'iso-b'),
    ]);
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
        const leaked = ws.messages.filter(
          (m) => ('runId' in m && foreignRuns.has(m.runId)) || ('threadId' in m && foreignThreads.has(m.threadId)),
        );
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
    const aThreads = await request<{ threads: Array<{ id: string }> }>(server.app.url, 'GET', '/threads', {
      token: alice.accessToken,
    });
    expect(new Set(aThreads.body.threads.map((t) => t.id))).toEqual(new Set(threadsOf('a')));
    const bThreads = await request<{ threads: Array<{ id: string }> }>(server.app.url, 'GET', '/threads', {
      token: bob.accessToken,
    });
    expect(new Set(bThreads.body.threads.map((t) => t.id))).toEqual(new Set(threadsOf('b')));
  });

  it("[CONTRACT WebSocket connection_established, OWASP API1:2023] a new connection of B lists only B's runs in progress in activeRuns, never A's", async () => {
    const [alice, bob] = await Promise.all([
      registerUser(server.app.url, 'active-a'),
      registerUser(server.app.url, 'active-b'),
    ]);
    const [aWs, bWs] = await Promise.all([open(alice), open(bob)]);
    const aLive = await send(aWs, { id: 'a-live', text: 'script:sleep 30000' });
    const bLive = await send(bWs, { id: 'b-live', text: 'script:sleep 30000' });
    await Promise.all([eventOf(aWs, aLive.runId, 'agent_thinking'), eventOf(bWs, bLive.runId, 'agent_thinking')]);

    const bNew = await open(bob);
    const established = (await bNew.next((m) => m.type === 'connection_established')) as Established;
    expect(established.userId).toBe(bob.user.id);
    expect(established.activeRuns.map((r) => r.runId)).toEqual([bLive.runId]);
    const aNew = await open(alice);
    expect(
      ((await aNew.next((m) => m.type === 'connection_established')) as Established).activeRuns.map((r) => r.runId),
    ).toEqual([aLive.runId]);

    for (const [ws, ack] of [
      [aWs, aLive],
      [bWs, bLive],
    ] as const) {
      ws.send({ type: 'cancel_run', runId: ack.runId });
      expect((await terminalOf(ws, ack.runId)).type).toBe('run_cancelled');
    }
    await settle(200);
    expect(bNew.messages.filter((m) => 'runId' in m && m.runId === aLive.runId)).toEqual([]);
    expect(aNew.messages.filter((m) => 'runId' in m && m.runId === bLive.runId)).toEqual([]);
  });
});

describe("BOLA: another user's thread or run reads exactly like a missing one, and is left alone", () => {
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

  const MISSING = MISSING_ID;

  it("[OWASP API1:2023] GET /threads/:id and /threads/:id/messages of A's thread answer B 404 not_found, byte-for-byte like a nonexistent id", async () => {
    for (const suffix of ['', '/messages']) {
      const theirs = await request(server.app.url, 'GET', `/threads/${finished.threadId}${suffix}`, {
        token: bob.accessToken,
      });
      const missing = await request(server.app.url, 'GET', `/threads/${MISSING}${suffix}`, { token: bob.accessToken });
      expect(theirs.status).toBe(404);
      expect(theirs.body).toMatchObject({ error: { code: 'not_found', message: expect.any(String) } });
      expect(theirs.body).toEqual(missing.body);
      expect(missing.status).toBe(404);
    }
    // The owner still reads it.
    expect(
      (await request(server.app.url, 'GET', `/threads/${finished.threadId}/messages`, { token: alice.accessToken }))
        .status,
    ).toBe(200);
  });

  it("[OWASP API1:2023] GET /runs/:id/events and POST /runs/:id/cancel of A's run answer B 404 like a nonexistent run, and do not cancel it", async () => {
    const live = await send(aWs, { id: 'live-http', text: 'script:sleep 30000' });
    await eventOf(aWs, live.runId, 'agent_thinking');
    for (const runId of [finished.runId, live.runId]) {
      const events = await request(server.app.url, 'GET', `/runs/${runId}/events?after=0`, { token: bob.accessToken });
      const missingEvents = await request(server.app.url, 'GET', `/runs/${MISSING}/events?after=0`, {
        token: bob.accessToken,
      });
      expect(events.status).toBe(404);
      expect(events.body).toMatchObject({ error: { code: 'not_found' } });
      expect(events.body).toEqual(missingEvents.body);
      const cancel = await request(server.app.url, 'POST', `/runs/${runId}/cancel`, { token: bob.accessToken });
      const missingCancel = await request(server.app.url, 'POST', `/runs/${MISSING}/cancel`, {
        token: bob.accessToken,
      });
      expect(cancel.status).toBe(404);
      expect(cancel.body).toMatchObject({ error: { code: 'not_found' } });
      expect(cancel.body).toEqual(missingCancel.body);
    }
    await settle(200);
    expect(aWs.eventsOf(live.runId).some((e) => e.type === 'run_cancelled')).toBe(false);
    expect((await threadRuns(server.app, alice, live.threadId))[0]).toMatchObject({
      id: live.runId,
      status: 'running',
    });
    // Clean up as the owner.
    expect(
      (await request(server.app.url, 'POST', `/runs/${live.runId}/cancel`, { token: alice.accessToken })).status,
    ).toBe(202);
    expect((await terminalOf(aWs, live.runId)).type).toBe('run_cancelled');
  });

  it("[OWASP API1:2023] GET /runs/:id/stream of A's live and finished runs (both formats, with Last-Event-ID) answers B a 404 byte-identical to a nonexistent run; A's own stream runs on whole", async () => {
    const live = await send(aWs, { id: 'live-sse', text: 'script:deltas 60 15' });
    const own = await sse(`${server.app.url}/runs/${live.runId}/stream`, { token: alice.accessToken });
    const url = (runId: string, query = ''): string => `${server.app.url}/runs/${runId}/stream${query}`;
    for (const [query, headers] of [
      ['', {}],
      ['?format=agui', {}],
      ['?after=1', {}],
      ['', { 'last-event-id': '1' }],
    ] as const) {
      const missing = await refused(url(MISSING, query), { token: bob.accessToken, headers });
      expect(missing.status).toBe(404);
      expect(JSON.parse(missing.text)).toMatchObject({ error: { code: 'not_found' } });
      for (const runId of [live.runId, finished.runId]) {
        const theirs = await refused(url(runId, query), { token: bob.accessToken, headers });
        expect({ runId, query, status: theirs.status }).toEqual({ runId, query, status: 404 });
        expect(theirs.headers.get('content-type')).toBe(missing.headers.get('content-type'));
        expect(theirs.text).toBe(missing.text);
      }
    }
    expect(await endOf(own, 15_000)).toBe('end');
    const events = await aWs.runEvents(live.runId);
    expect(events.at(-1)?.type).toBe('agent_completed');
    expect(ids(own.events)).toEqual(events.map((e) => e.seq));
    expect(bWs.messages.filter((m) => 'runId' in m && m.runId === live.runId)).toEqual([]);
  });

  it("[OWASP API1:2023] POST /agui naming A's threadId or runId answers B the very 404 the API gives for a missing thread or run, and creates, starts and announces nothing", async () => {
    const input = (threadId: string, runId: string): Record<string, unknown> => ({
      threadId,
      runId,
      messages: [{ id: randomUUID(), role: 'user', content: 'calculate 2+2' }],
      tools: [],
      context: [],
      state: {},
      forwardedProps: {},
    });
    const aMessages = (
      await request<{ messages: unknown[] }>(server.app.url, 'GET', `/threads/${finished.threadId}/messages`, {
        token: alice.accessToken,
      })
    ).body.messages;
    const aEvents = (
      await request<{ events: unknown[] }>(server.app.url, 'GET', `/runs/${finished.runId}/events`, {
        token: alice.accessToken,
      })
    ).body.events;
    const bThreads = (
      await request<{ threads: unknown[] }>(server.app.url, 'GET', '/threads', { token: bob.accessToken })
    ).body.threads;
    const aSeen = aWs.messages.length;
    const bSeen = bWs.messages.length;

    const missingThread = await rawRequest(server.app.url, 'GET', `/threads/${MISSING}`, { token: bob.accessToken });
    const missingRun = await rawRequest(server.app.url, 'GET', `/runs/${MISSING}/events`, { token: bob.accessToken });
    const intoTheirThread = await refused(`${server.app.url}/agui`, {
      method: 'POST',
      token: bob.accessToken,
      body: input(finished.threadId, randomUUID()),
    });
    const theirRunNewThread = await refused(`${server.app.url}/agui`, {
      method: 'POST',
      token: bob.accessToken,
      body: input(randomUUID(), finished.runId),
    });
    const theirRunTheirThread = await refused(`${server.app.url}/agui`, {
      method: 'POST',
      token: bob.accessToken,
      body: input(finished.threadId, finished.runId),
    });
    expect(intoTheirThread.status).toBe(404);
    expect(intoTheirThread.text).toBe(missingThread.text);
    for (const res of [theirRunNewThread, theirRunTheirThread]) {
      expect(res.status).toBe(404);
      expect(JSON.parse(res.text)).toMatchObject({ error: { code: 'not_found' } });
      expect([missingRun.text, missingThread.text]).toContain(res.text);
    }
    expect(theirRunNewThread.text).toBe(missingRun.text);

    await settle(300);
    expect(
      (
        await request<{ messages: unknown[] }>(server.app.url, 'GET', `/threads/${finished.threadId}/messages`, {
          token: alice.accessToken,
        })
      ).body.messages,
    ).toEqual(aMessages);
    expect(
      (
        await request<{ events: unknown[] }>(server.app.url, 'GET', `/runs/${finished.runId}/events`, {
          token: alice.accessToken,
        })
      ).body.events,
    ).toEqual(aEvents);
    expect(await threadRuns(server.app, alice, finished.threadId)).toHaveLength(1);
    expect(
      (await request<{ threads: unknown[] }>(server.app.url, 'GET', '/threads', { token: bob.accessToken })).body
        .threads,
    ).toEqual(bThreads);
    expect(aWs.messages.slice(aSeen)).toEqual([]);
    expect(bWs.messages.slice(bSeen)).toEqual([]);
  });

  it("[OWASP API1:2023, CWE-639] tampered spellings of A's ids (case, padding, percent-encoding, suffixes, SQL) answer B exactly as the same spelling of a missing id", async () => {
    const variants: Array<(id: string) => string> = [
      (id) => id.toUpperCase(),
      (id) => `%20${id}`,
      (id) => `${id}%20`,
      (id) => `${id}%00`,
      (id) => encodeURIComponent(id).replace(/-/g, '%2D'),
      (id) => `${id}x`,
      (id) => `${id}'%20OR%20'1'='1`,
      (id) => `${id}%25`,
      (id) => `${id.slice(0, -1)}*`,
    ];
    const routes: Array<{ method: string; path: (id: string) => string; of: 'thread' | 'run' }> = [
      { method: 'GET', path: (id) => `/threads/${id}`, of: 'thread' },
      { method: 'GET', path: (id) => `/threads/${id}/messages`, of: 'thread' },
      { method: 'GET', path: (id) => `/runs/${id}/events`, of: 'run' },
      { method: 'GET', path: (id) => `/runs/${id}/stream`, of: 'run' },
      { method: 'POST', path: (id) => `/runs/${id}/cancel`, of: 'run' },
    ];
    for (const { method, path, of } of routes) {
      const target = of === 'thread' ? finished.threadId : finished.runId;
      for (const variant of variants) {
        const theirs = await rawRequest(server.app.url, method, path(variant(target)), { token: bob.accessToken });
        const missing = await rawRequest(server.app.url, method, path(variant(MISSING)), { token: bob.accessToken });
        const where = `${method} ${path(variant(target))}`;
        expect({ where, status: theirs.status }).toEqual({ where, status: missing.status });
        expect(theirs.text, where).toBe(missing.text);
        expect([400, 404], where).toContain(theirs.status);
      }
    }
    // The percent-encoded spelling is the same id: its owner still reads it.
    const encoded = encodeURIComponent(finished.threadId).replace(/-/g, '%2D');
    expect(
      (await rawRequest(server.app.url, 'GET', `/threads/${encoded}/messages`, { token: alice.accessToken })).status,
    ).toBe(200);
  });

  it("[CONTRACT WebSocket, OWASP API1:2023] over WebSocket, B's cancel_run and resume of A's run get error not_found (as for a missing run) and no events", async () => {
    const live = await send(aWs, { id: 'live-ws', text: 'script:sleep 30000' });
    await eventOf(aWs, live.runId, 'agent_thinking');
    bWs.send({ type: 'cancel_run', id: 'bc', runId: live.runId });
    bWs.send({ type: 'cancel_run', id: 'bc-missing', runId: MISSING });
    bWs.send({ type: 'resume', id: 'br', runId: live.runId, afterSeq: 0 });
    bWs.send({ type: 'resume', id: 'br-done', runId: finished.runId, afterSeq: 0 });
    bWs.send({ type: 'resume', id: 'br-missing', runId: MISSING, afterSeq: 0 });
    const [cancel, cancelMissing, resume, resumeDone, resumeMissing] = await Promise.all(
      ['bc', 'bc-missing', 'br', 'br-done', 'br-missing'].map((id) => errorFor(bWs, id)),
    );
    expect(cancel).toMatchObject({ code: 'not_found' });
    expect(resume).toMatchObject({ code: 'not_found' });
    expect(resumeDone).toMatchObject({ code: 'not_found' });
    expect({ ...cancel, replyTo: null }).toEqual({ ...cancelMissing, replyTo: null });
    expect({ ...resume, replyTo: null }).toEqual({ ...resumeMissing, replyTo: null });
    await settle(300);
    expect(bWs.messages.filter((m) => 'runId' in m && (m.runId === live.runId || m.runId === finished.runId))).toEqual(
      [],
    );
    expect(bWs.messages.some((m) => m.type === 'resumed')).toBe(false);
    // A's run was not touched.
    expect(aWs.eventsOf(live.runId).some((e) => e.type === 'run_cancelled')).toBe(false);
    aWs.send({ type: 'cancel_run', id: 'ac', runId: live.runId });
    expect((await terminalOf(aWs, live.runId)).type).toBe('run_cancelled');
  });

  it("[CONTRACT WebSocket, OWASP API1:2023] B's user_message with A's threadId gets error not_found (as for a missing thread) and adds nothing to A's thread", async () => {
    const before = await request<{ messages: unknown[] }>(
      server.app.url,
      'GET',
      `/threads/${finished.threadId}/messages`,
      { token: alice.accessToken },
    );
    const aMessagesBefore = aWs.messages.length;
    bWs.send({ type: 'user_message', id: 'intrude', threadId: finished.threadId, text: 'calculate 1+1' });
    bWs.send({ type: 'user_message', id: 'intrude-missing', threadId: MISSING, text: 'calculate 1+1' });
    const [theirs, missing] = await Promise.all([errorFor(bWs, 'intrude'), errorFor(bWs, 'intrude-missing')]);
    expect(theirs).toMatchObject({ code: 'not_found' });
    expect({ ...theirs, replyTo: null }).toEqual({ ...missing, replyTo: null });
    await settle(300);
    expect(
      bWs.messages.filter(
        (m) => m.type === 'message_accepted' && (m.replyTo === 'intrude' || m.replyTo === 'intrude-missing'),
      ),
    ).toEqual([]);
    expect(bWs.messages.filter((m) => 'threadId' in m && m.threadId === finished.threadId)).toEqual([]);
    expect(aWs.messages.slice(aMessagesBefore)).toEqual([]);
    const after = await request<{ messages: unknown[] }>(
      server.app.url,
      'GET',
      `/threads/${finished.threadId}/messages`,
      { token: alice.accessToken },
    );
    expect(after.body.messages).toEqual(before.body.messages);
    expect(await threadRuns(server.app, alice, finished.threadId)).toHaveLength(1);
  });

  it("[CONTRACT WebSocket onBusy, OWASP API1:2023] B posting into A's busy thread with onBusy interrupt or reject gets not_found (never thread_busy) and A's run goes on", async () => {
    const live = await send(aWs, { id: 'busy-live', text: 'script:sleep 30000' });
    await eventOf(aWs, live.runId, 'agent_thinking');
    const aSeen = aWs.messages.length;
    for (const onBusy of ['interrupt', 'reject', 'enqueue']) {
      bWs.send({ type: 'user_message', id: `busy-${onBusy}`, threadId: live.threadId, text: 'calculate 1+1', onBusy });
      bWs.send({
        type: 'user_message',
        id: `busy-missing-${onBusy}`,
        threadId: MISSING,
        text: 'calculate 1+1',
        onBusy,
      });
      const [theirs, missing] = await Promise.all([
        errorFor(bWs, `busy-${onBusy}`),
        errorFor(bWs, `busy-missing-${onBusy}`),
      ]);
      expect(theirs).toMatchObject({ code: 'not_found' });
      expect({ ...theirs, replyTo: null }).toEqual({ ...missing, replyTo: null });
    }
    await settle(300);
    expect(aWs.messages.slice(aSeen)).toEqual([]);
    expect(await threadRuns(server.app, alice, live.threadId)).toEqual([
      expect.objectContaining({ id: live.runId, status: 'running' }),
    ]);
    aWs.send({ type: 'cancel_run', runId: live.runId });
    expect((await terminalOf(aWs, live.runId)).type).toBe('run_cancelled');
  });

  it("[CONTRACT WebSocket message ids \"from this user\", OWASP API1:2023] B reusing A's client message id starts a run of B's own and never gets A's runId or threadId", async () => {
    const aAck = await send(aWs, { id: 'shared-client-id', text: 'calculate 3*3' });
    await terminalOf(aWs, aAck.runId);
    const aSeen = aWs.messages.length;
    const bAck = await send(bWs, { id: 'shared-client-id', text: 'calculate 4*4' });
    expect(bAck.runId).not.toBe(aAck.runId);
    expect(bAck.threadId).not.toBe(aAck.threadId);
    expect((await terminalOf(bWs, bAck.runId)).type).toBe('agent_completed');
    // A retry by A with the same id still answers A's own ack, and B's run never reached A.
    expect(await send(aWs, { id: 'shared-client-id', text: 'calculate 3*3' })).toMatchObject({
      runId: aAck.runId,
      threadId: aAck.threadId,
    });
    await settle(200);
    expect(aWs.messages.slice(aSeen).filter((m) => 'runId' in m && m.runId === bAck.runId)).toEqual([]);
    expect(bWs.messages.filter((m) => 'runId' in m && m.runId === aAck.runId)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Isolation under abuse: while A floods its connection with hostile messages (some naming B's runs and threads) and
// opens raw connections that send broken frames, B runs 5 "calculate" runs at once and gets every event on both of
// its connections, well formed, with the right answers; nothing of A reaches B and nothing of B reaches A.
// fast-check prints the seed on failure; rerun with FC_SEED=<seed> (and FC_PATH=<path>).

const FC_OPTIONS = {
  ...(process.env.FC_SEED === undefined ? {} : { seed: Number(process.env.FC_SEED) }),
  ...(process.env.FC_PATH === undefined ? {} : { path: process.env.FC_PATH }),
};

describe('BOLA: isolation under abuse', () => {
  let app: TestApp;
  let alice: User;
  let bob: User;
  let a: TestSocket;
  let b1: TestSocket;
  let b2: TestSocket;

  beforeAll(async () => {
    // A may flood as fast as it likes (rate limits lifted): the point is what that does to B.
    app = await createTestApp({
      WS_MESSAGES_PER_SECOND: '100000',
      WS_MESSAGE_BURST: '1000000',
      HANDSHAKES_PER_MINUTE: '1000000',
      MAX_CONNECTIONS_PER_USER: '10000',
    });
    [alice, bob] = await Promise.all([registerUser(app.url, 'abuser'), registerUser(app.url, 'bystander')]);
    const openAs = (u: User): Promise<TestSocket> =>
      TestSocket.open(wsUrl(app.url), { headers: { authorization: `Bearer ${u.accessToken}` } });
    [a, b1, b2] = await Promise.all([openAs(alice), openAs(bob), openAs(bob)]);
  });
  afterAll(async () => {
    for (const s of [a, b1, b2]) s?.close();
    await app?.close();
  });

  const seenBobRuns = new Set<string>();
  const seenBobThreads = new Set<string>();
  const seenAliceRuns = new Set<string>();
  let round = 0;

  it('[CONTRACT WebSocket "to no one else, ever"] property: while A floods and breaks frames, B\'s 5 concurrent calculate runs arrive complete, well formed and correct, on both of B\'s connections', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 999 }), fc.integer({ min: 0, max: 999 })), {
          minLength: 5,
          maxLength: 5,
        }),
        fc.array(hostileText, { minLength: 10, maxLength: 40 }),
        fc.array(brokenFrames, { maxLength: 3 }),
        async (operands, flood, barrages) => {
          round += 1;
          const ids = operands.map((_, i) => `r${round}-b${i}`);
          const bobRunsSoFar = [...seenBobRuns];
          const bobThreadsSoFar = [...seenBobThreads];

          // B sends its 5 runs while A floods its socket and opens broken raw connections, all at once.
          const bobSends = operands.map(([x, y], i) => {
            b1.send({ type: 'user_message', id: ids[i], text: `calculate ${x}*${y}` });
            return b1.next(
              (m) => (m.type === 'message_accepted' || m.type === 'error') && m.replyTo === ids[i],
              10_000,
            );
          });
          const aliceFlood = (async () => {
            for (const text of flood) {
              if (a.closed !== undefined) return;
              a.send(materialize(text, bobRunsSoFar, bobThreadsSoFar));
            }
          })();
          await Promise.all([aliceFlood, ...barrages.map((bytes) => rawAbuse(app.port, alice.accessToken, bytes))]);

          const replies = await Promise.all(bobSends);
          const acks: Array<{ runId: string; threadId: string }> = [];
          for (const [i, reply] of replies.entries()) {
            if (reply.type !== 'message_accepted')
              throw new Error(`B's message ${ids[i]} was refused: ${JSON.stringify(reply)}`);
            acks.push({ runId: reply.runId, threadId: reply.threadId });
            seenBobRuns.add(reply.runId);
            seenBobThreads.add(reply.threadId);
          }

          for (const [i, { runId }] of acks.entries()) {
            const [x, y] = operands[i] ?? [0, 0];
            for (const [name, ws] of [
              ['b1', b1],
              ['b2', b2],
            ] as const) {
              await ws.next((m) => isRunEvent(m) && m.runId === runId && isTerminalEvent(m), 15_000);
              const events = ws.eventsOf(runId);
              const problems = verifyRunEvents(events);
              if (problems.length > 0)
                throw new Error(`${name}: run ${runId} (${x}*${y}) is not well formed: ${problems.join('; ')}`);
              const last = events.at(-1);
              if (last?.type !== 'agent_completed' || !last.text.includes(String(x * y))) {
                throw new Error(
                  `${name}: run ${runId} (${x}*${y}) ended ${JSON.stringify(last)}; expected agent_completed containing ${x * y}`,
                );
              }
              if (!ws.messages.some((m) => m.type === 'message_added' && m.runId === runId))
                throw new Error(`${name}: no message_added for ${runId}`);
            }
            expect(b2.eventsOf(runId)).toEqual(b1.eventsOf(runId));
          }

          // A's socket answers a ping after the flood (unless A got itself closed), and learns about its own runs only.
          if (a.closed === undefined) {
            a.send({ type: 'ping', id: `a-sync-${round}` });
            await a.next((m) => m.type === 'pong' && m.replyTo === `a-sync-${round}`, 10_000);
          }
          for (const m of a.messages) if (m.type === 'message_accepted') seenAliceRuns.add(m.runId);

          const leakedToAlice = a.messages.filter(
            (m) => ('runId' in m && seenBobRuns.has(m.runId)) || ('threadId' in m && seenBobThreads.has(m.threadId)),
          );
          if (leakedToAlice.length > 0)
            throw new Error(`B's data reached A: ${JSON.stringify(leakedToAlice.slice(0, 3))}`);
          for (const [name, ws] of [
            ['b1', b1],
            ['b2', b2],
          ] as const) {
            const foreign = ws.messages.filter(
              (m) =>
                (isRunEvent(m) || m.type === 'message_added' || m.type === 'message_accepted') &&
                !seenBobRuns.has(m.runId),
            );
            if (foreign.length > 0)
              throw new Error(
                `${name} received messages of runs that are not B's: ${JSON.stringify(foreign.slice(0, 3))}`,
              );
            const errors = ws.messages.filter((m) => m.type === 'error');
            if (errors.length > 0) throw new Error(`${name} received errors: ${JSON.stringify(errors.slice(0, 3))}`);
            if (ws.closed !== undefined) throw new Error(`${name} was closed: ${JSON.stringify(ws.closed)}`);
          }
        },
      ),
      { numRuns: Number(process.env.FC_RUNS ?? 30), endOnFailure: true, ...FC_OPTIONS },
    );
  }, 90_000);

  it("[OWASP API1:2023] A's attempts to resume, cancel or post into B's runs and threads during the flood all got not_found", () => {
    const replyToOf = (m: ServerMessage): string => {
      const r = (m as { replyTo?: unknown }).replyTo;
      return typeof r === 'string' ? r : '';
    };
    const steals = a.messages.filter((m) => replyToOf(m).startsWith('steal-'));
    expect(steals.length).toBeGreaterThan(0);
    for (const m of steals) {
      // Posting may also meet A's own run limit first (checked before the thread, so it reveals nothing about B).
      const codes = replyToOf(m).startsWith('steal-post-') ? ['not_found', 'too_many_runs'] : ['not_found'];
      expect(m.type, JSON.stringify(m)).toBe('error');
      expect(codes, JSON.stringify(m)).toContain((m as { code?: string }).code);
    }
    expect(a.messages.filter((m) => (m as { code?: unknown }).code === 'internal_error')).toEqual([]);
    // Nothing A started ever reached B.
    for (const ws of [b1, b2])
      expect(ws.messages.filter((m) => 'runId' in m && seenAliceRuns.has(m.runId))).toEqual([]);
  });
});
