import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyRunEvents, type RunEvent } from '../../src/protocol/index.js';
import { createTestApp, registerUser, request, TestSocket, wsUrl } from '../../src/testing/index.js';
import { aguiEvents, aguiProblems, dripScript, dripText, replayThroughClient, textOf } from './helpers/agui.js';
import { commonScripts, eventually, range, send, useScriptedApp, useTestApp, type User } from './helpers/runs.js';
import { abortOpenStreams, endOf, ids, payloads, refused, sse, type SseEvent } from './helpers/sse.js';

const server = useScriptedApp({ MAX_RUNS_PER_USER: '20' }, { ...commonScripts, drip: dripScript });
afterAll(abortOpenStreams);

const streamUrl = (runId: string, query = ''): string => `${server.app.url}/runs/${runId}/stream${query}`;

async function storedEvents(user: User, runId: string): Promise<{ status: string; events: RunEvent[] }> {
  const res = await request<{ status: string; events: RunEvent[] }>(server.app.url, 'GET', `/runs/${runId}/events`, {
    token: user.accessToken,
  });
  expect(res.status).toBe(200);
  return res.body;
}

/** The last block of a raw stream: what came after everything else. */
const lastBlock = (raw: string): string => raw.trimEnd().split('\n\n').at(-1) ?? '';

describe('GET /runs/:id/stream', () => {
  it('a finished run: every event 1..N exactly as GET /runs/:id/events, ids = seq, then the response ends; ?after and Last-Event-ID give the tail, the header winning', async () => {
    const user = await registerUser(server.app.url, 'sse-done');
    const ws = await server.open(user);
    const ack = await send(ws, { id: 'calc', text: 'calculate 12*7' });
    const live = await ws.runEvents(ack.runId);
    const stored = await storedEvents(user, ack.runId);
    await eventually(async () => (await storedEvents(user, ack.runId)).status === 'completed', 5_000, 'run completed');
    const N = stored.events.length;
    expect(N).toBeGreaterThanOrEqual(6);
    expect(stored.events).toEqual(live);
    expect(verifyRunEvents(stored.events)).toEqual([]);

    const all = await sse(streamUrl(ack.runId), { token: user.accessToken });
    expect(all.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(all.headers.get('cache-control')).toBe('no-store');
    expect(await endOf(all, 5_000)).toBe('end');
    expect(all.raw().startsWith(': stream open\n\n')).toBe(true);
    expect(ids(all.events)).toEqual(range(1, N));
    expect(payloads(all.events)).toEqual(stored.events);
    expect(payloads<RunEvent>(all.events).map((e) => e.seq)).toEqual(ids(all.events));
    // The terminal event is the last thing sent: no event, comment or keep-alive after it.
    expect(payloads<RunEvent>(all.events).at(-1)?.type).toBe('agent_completed');
    expect(lastBlock(all.raw()).startsWith(`id: ${N}\ndata: `)).toBe(true);

    const tail = async (query: string, headers: Record<string, string> = {}): Promise<SseEvent[]> => {
      const s = await sse(streamUrl(ack.runId, query), { token: user.accessToken, headers });
      expect(await endOf(s, 5_000)).toBe('end');
      return s.events;
    };
    const byQuery = await tail('?after=3');
    expect(ids(byQuery)).toEqual(range(4, N));
    expect(payloads(byQuery)).toEqual(stored.events.slice(3));
    const byHeader = await tail('', { 'last-event-id': '3' });
    expect(ids(byHeader)).toEqual(range(4, N));
    expect(payloads(byHeader)).toEqual(stored.events.slice(3));
    // Last-Event-ID wins over ?after, whichever is larger, even when it is 0.
    expect(ids(await tail('?after=2', { 'last-event-id': '5' }))).toEqual(range(6, N));
    expect(ids(await tail('?after=5', { 'last-event-id': '2' }))).toEqual(range(3, N));
    expect(ids(await tail(`?after=${N - 1}`, { 'last-event-id': '0' }))).toEqual(range(1, N));
    // At (or past) the end: nothing, and the response still ends at once.
    expect(await tail(`?after=${N}`)).toEqual([]);
    expect(await tail('', { 'last-event-id': String(N + 10) })).toEqual([]);
  });

  it('a live run cut mid-stream and resumed with Last-Event-ID: the two parts are 1..N with no duplicate and no gap, equal to the stored log (default format)', async () => {
    const user = await registerUser(server.app.url, 'sse-cut');
    const ws = await server.open(user);
    const ack = await send(ws, { id: 'drip', text: 'script:drip 60 20' });

    const first = await sse(streamUrl(ack.runId), {
      token: user.accessToken,
      cutWhen: (events) => events.length >= 15,
    });
    expect(await endOf(first, 10_000)).toBe('cut');
    const lastId = first.events.at(-1)?.id ?? '';
    expect(ids(first.events)).toEqual(range(1, Number(lastId)));
    // The cut was mid-run: nothing terminal yet, and the run goes on without its reader.
    expect(payloads<RunEvent>(first.events).some((e) => e.type === 'agent_completed')).toBe(false);
    expect((await storedEvents(user, ack.runId)).status).toBe('running');
    // Events pile up while disconnected: the resume replays them, then continues live.
    await ws.next((m) => 'seq' in m && m.runId === ack.runId && m.seq >= Number(lastId) + 5, 5_000);

    const second = await sse(streamUrl(ack.runId), { token: user.accessToken, headers: { 'last-event-id': lastId } });
    const sawLive = (await storedEvents(user, ack.runId)).status === 'running';
    expect(await endOf(second, 15_000)).toBe('end');

    const union = [...first.events, ...second.events];
    const stored = await storedEvents(user, ack.runId);
    const N = stored.events.length;
    expect(N).toBe(1 + 1 + 60 + 2 + 1);
    expect(ids(union)).toEqual(range(1, N));
    expect(payloads(union)).toEqual(stored.events);
    expect(payloads(union)).toEqual(await ws.runEvents(ack.runId));
    expect(payloads<RunEvent>(union).at(-1)?.type).toBe('agent_completed');
    expect(stored.status).toBe('completed');
    expect(sawLive).toBe(true);
  });

  it('the same cut and resume with ?format=agui: together the parts are the full AG-UI stream, valid for @ag-ui/client, nothing repeated or lost', async () => {
    const user = await registerUser(server.app.url, 'sse-cut-agui');
    const ws = await server.open(user);
    const ack = await send(ws, { id: 'drip', text: 'script:drip 60 20' });

    // Cut inside the first text message (after a dozen AG-UI events), so the resume has to close it.
    const first = await sse(streamUrl(ack.runId, '?format=agui'), {
      token: user.accessToken,
      cutWhen: (events) => events.length >= 14,
    });
    expect(await endOf(first, 10_000)).toBe('cut');
    const lastId = first.events.at(-1)?.id ?? '';
    const firstTypes = aguiEvents(first.events).map((e) => e.type);
    expect(firstTypes).toContain('TEXT_MESSAGE_START');
    expect(firstTypes).not.toContain('TEXT_MESSAGE_END');
    expect(firstTypes).not.toContain('RUN_FINISHED');
    await ws.next((m) => 'seq' in m && m.runId === ack.runId && m.seq >= Number(lastId) + 5, 5_000);

    const second = await sse(streamUrl(ack.runId, '?format=agui'), {
      token: user.accessToken,
      headers: { 'last-event-id': lastId },
    });
    expect(await endOf(second, 15_000)).toBe('end');
    const union = [...first.events, ...second.events];

    // ids are our seqs: non-decreasing, the second part strictly after the cut, no (id, event) twice.
    const unionIds = ids(union);
    expect(unionIds).toEqual([...unionIds].sort((a, b) => a - b));
    expect(ids(second.events).every((id) => id > Number(lastId))).toBe(true);
    expect(new Set(union.map((e) => `${e.id}\n${e.data}`)).size).toBe(union.length);
    // Every seq that has an AG-UI counterpart is there (agent_started .. agent_completed, none skipped).
    const stored = await storedEvents(user, ack.runId);
    expect(new Set(unionIds)).toEqual(new Set(range(1, stored.events.length)));

    const events = aguiEvents(union);
    expect(aguiProblems(events)).toEqual([]);
    expect(events.filter((e) => e.type === 'TEXT_MESSAGE_START')).toHaveLength(2);
    expect(events.filter((e) => e.type === 'TEXT_MESSAGE_END')).toHaveLength(2);
    expect(events.at(-1)).toMatchObject({
      type: 'RUN_FINISHED',
      runId: ack.runId,
      threadId: ack.threadId,
      outcome: { type: 'success' },
    });

    // Exactly what a reader that was never cut gets.
    const whole = await sse(streamUrl(ack.runId, '?format=agui'), { token: user.accessToken });
    expect(await endOf(whole, 5_000)).toBe('end');
    expect(union).toEqual(whole.events);

    // And the official client accepts the stitched stream and rebuilds the answer from it.
    const replay = await replayThroughClient(union, { threadId: ack.threadId, runId: ack.runId });
    const texts = replay.newMessages
      .filter((m) => m.role === 'assistant')
      .map(textOf)
      .filter((t) => t !== '');
    expect(texts).toEqual([dripText(1, 30), dripText(31, 60)]);
    expect(replay.newMessages.find((m) => m.role === 'tool')).toMatchObject({ role: 'tool' });
    expect(
      textOf(
        replay.newMessages.find((m) => m.role === 'tool') ?? { id: '', role: 'tool', content: '', toolCallId: '' },
      ),
    ).toContain('42');
  });

  it("refusals: 401 without a token, 404 for another user's run byte-identical to a missing one, 400 for a bad Last-Event-ID / after / format", async () => {
    const [owner, stranger] = await Promise.all([
      registerUser(server.app.url, 'sse-owner'),
      registerUser(server.app.url, 'sse-stranger'),
    ]);
    const ws = await server.open(owner);
    const ack = await send(ws, { id: 'calc', text: 'calculate 12*7' });
    await ws.runEvents(ack.runId);

    const noToken = await refused(streamUrl(ack.runId));
    expect(noToken.status).toBe(401);
    expect(JSON.parse(noToken.text)).toMatchObject({ error: { code: 'unauthorized' } });
    const badToken = await refused(streamUrl(ack.runId), { token: 'not-a-token' });
    expect(badToken.status).toBe(401);
    expect(JSON.parse(badToken.text)).toMatchObject({ error: { code: 'invalid_token' } });

    const missing = await refused(streamUrl(randomUUID()), { token: stranger.accessToken });
    for (const [query, headers] of [
      ['', {}],
      ['?format=agui', {}],
      ['', { 'last-event-id': '2' }],
    ] as const) {
      const foreign = await refused(streamUrl(ack.runId, query), { token: stranger.accessToken, headers });
      expect(foreign.status).toBe(404);
      expect(foreign.headers.get('content-type')).toMatch(/^application\/json/);
      expect(foreign.text).toBe(missing.text);
    }
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.text)).toMatchObject({ error: { code: 'not_found' } });

    for (const [query, headers] of [
      ['', { 'last-event-id': 'abc' }],
      ['', { 'last-event-id': '-1' }],
      ['', { 'last-event-id': '1.5' }],
      ['?after=abc', {}],
      ['?after=-1', {}],
      ['?format=xml', {}],
    ] as const) {
      const bad = await refused(streamUrl(ack.runId, query), { token: owner.accessToken, headers });
      expect({ query, headers, status: bad.status }).toEqual({ query, headers, status: 400 });
      expect(JSON.parse(bad.text)).toMatchObject({ error: { code: 'invalid_request' } });
    }
    // A bad Last-Event-ID wins over a good ?after: the header is what counts.
    const badHeader = await refused(streamUrl(ack.runId, '?after=2'), {
      token: owner.accessToken,
      headers: { 'last-event-id': 'abc' },
    });
    expect(badHeader.status).toBe(400);
    // The owner's stream itself works.
    const ok = await sse(streamUrl(ack.runId), { token: owner.accessToken });
    expect(await endOf(ok, 5_000)).toBe('end');
    expect(ok.events.length).toBeGreaterThan(0);
  });

  it('a run started over the WebSocket streams over SSE too, and POST /runs/:id/cancel ends the stream with run_cancelled', async () => {
    const user = await registerUser(server.app.url, 'sse-cancel');
    const ws = await server.open(user);
    const ack = await send(ws, { id: 'wait', text: 'wait 30 seconds' });
    const stream = await sse(streamUrl(ack.runId), { token: user.accessToken, timeoutMs: 15_000 });
    const tool = await stream.next((e) => (JSON.parse(e.data) as RunEvent).type === 'tool_executing', 5_000);
    expect(JSON.parse(tool.data)).toMatchObject({ tool: 'wait', args: { seconds: 30 } });

    const t0 = Date.now();
    const cancel = await request(server.app.url, 'POST', `/runs/${ack.runId}/cancel`, { token: user.accessToken });
    expect(cancel.status).toBe(202);
    expect(await endOf(stream, 5_000)).toBe('end');
    expect(Date.now() - t0).toBeLessThan(5_000);

    const events = payloads<RunEvent>(stream.events);
    expect(events.at(-1)?.type).toBe('run_cancelled');
    expect(verifyRunEvents(events)).toEqual([]);
    expect(ids(stream.events)).toEqual(range(1, events.length));
    expect(events).toEqual(await ws.runEvents(ack.runId));
    await eventually(async () => (await storedEvents(user, ack.runId)).status === 'cancelled', 5_000, 'run cancelled');
    expect((await storedEvents(user, ack.runId)).events).toEqual(events);
  });
});

describe('GET /runs/:id/stream at shutdown', () => {
  it("an open stream does not hold up a graceful stop: the stop takes about SHUTDOWN_GRACE_MS, not the run's 15 s, and the stream ends", async () => {
    const app = await createTestApp({ SHUTDOWN_GRACE_MS: '1000' });
    try {
      const user = await registerUser(app.url, 'sse-shutdown');
      const ws = await TestSocket.open(wsUrl(app.url), { headers: { authorization: `Bearer ${user.accessToken}` } });
      const ack = await send(ws, { id: 'long', text: 'wait 15 seconds' });
      const stream = await sse(`${app.url}/runs/${ack.runId}/stream`, { token: user.accessToken });
      await ws.next((m) => m.type === 'tool_executing');
      const started = Date.now();
      await app.stop();
      expect(Date.now() - started).toBeLessThan(5_000);
      // Ended at once at shutdown: the client resumes elsewhere with Last-Event-ID.
      expect(await endOf(stream, 5_000)).toBe('end');
    } finally {
      await app.close();
    }
  });
});

describe('GET /runs/:id/stream keep-alive', () => {
  const quiet = useTestApp({ SSE_KEEPALIVE_MS: '1000' });

  it('with SSE_KEEPALIVE_MS=1000, a run waiting 3 s gets ": keep-alive" comments on its stream before the terminal event', async () => {
    const user = await registerUser(quiet.app.url, 'sse-keepalive');
    const ws = await quiet.open(user);
    const ack = await send(ws, { id: 'wait', text: 'wait 3 seconds' });
    const stream = await sse(`${quiet.app.url}/runs/${ack.runId}/stream`, { token: user.accessToken });
    expect(await endOf(stream, 10_000)).toBe('end');

    const raw = stream.raw();
    const terminalAt = raw.indexOf('"type":"agent_completed"');
    expect(terminalAt).toBeGreaterThan(0);
    const beforeTerminal = raw
      .slice(0, terminalAt)
      .split('\n\n')
      .filter((block) => block === ': keep-alive');
    expect(beforeTerminal.length).toBeGreaterThanOrEqual(2);
    expect(stream.comments.filter((c) => c === 'keep-alive').length).toBeGreaterThanOrEqual(2);
    // Comments are not events: the events are still exactly the run's.
    const events = payloads<RunEvent>(stream.events);
    expect(ids(stream.events)).toEqual(range(1, events.length));
    expect(events).toEqual(await ws.runEvents(ack.runId));
    expect(lastBlock(raw).startsWith(`id: ${events.length}\ndata: `)).toBe(true);
  });
});
