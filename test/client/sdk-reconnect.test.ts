import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyRunEvents, type RunEvent } from '../../src/protocol/index.js';
import { createTestApp, request, type TestApp } from '../../src/testing/index.js';
import { commonScripts, ScriptedAgent } from '../e2e/helpers/runs.js';
import {
  clientOf,
  collect,
  oneToN,
  PASSWORD,
  recordEvents,
  recordStates,
  seqsOf,
  uniqueEmail,
  until,
} from './helpers.js';

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp({ DEMO_MODE: '1', MAX_RUNS_PER_USER: '20' }, { agent: new ScriptedAgent(commonScripts) });
});
afterAll(async () => {
  await app?.close();
});

/** Kills every server-side socket without a close frame: the client sees 1006, as on a network failure. */
function dropAllSockets(): number {
  const connections = app.gateway.registry.all();
  for (const c of connections) c.socket.terminate();
  return connections.length;
}

/** The next time the server sends a frame of `type` on any current socket, that socket dies instead. */
function dropOnNext(type: string): Promise<void> {
  return new Promise((resolve) => {
    for (const conn of app.gateway.registry.all()) {
      const socket = conn.socket;
      const send = socket.send.bind(socket) as (data: string) => void;
      (socket as unknown as { send: (data: string) => void }).send = (data: string) => {
        if ((JSON.parse(data) as { type: string }).type !== type) return send(data);
        socket.terminate();
        resolve();
      };
    }
  });
}

const threadRuns = async (token: string, threadId: string): Promise<unknown[]> =>
  (await request<{ thread: { runs: unknown[] } }>(app.url, 'GET', `/threads/${threadId}`, { token })).body.thread.runs;

describe('SDK: reconnect and resume', () => {
  it('sockets killed twice mid-run: the iterator and onEvent still see every event exactly once, equal to the stored log', async () => {
    const client = clientOf(app);
    const states = recordStates(client);
    const seen = recordEvents(client);
    await client.demo();
    await client.connect();

    const handle = client.run('script:deltas 400 3');
    const received: RunEvent[] = [];
    let drops = 0;
    for await (const event of handle) {
      received.push(event);
      // Drop at seq 30, and again at 150 (on the reconnected socket, right after its replay).
      if ((event.seq === 30 && drops === 0) || (event.seq === 150 && drops === 1)) {
        expect(dropAllSockets()).toBe(1);
        drops += 1;
      }
    }
    expect(drops).toBe(2);
    const { runId } = await handle.accepted;
    expect(verifyRunEvents(received)).toEqual([]);
    expect(seqsOf(received)).toEqual(oneToN(402));
    expect(received).toEqual(await client.runEvents(runId));
    expect(seen.get(runId)).toEqual(received);
    const lost = states.filter((s) => s.state === 'reconnecting');
    expect(lost.length).toBeGreaterThanOrEqual(2);
    expect(lost[0]?.detail).toMatchObject({ closeCode: 1006, error: { code: 'connection_lost' } });
    expect(client.state).toBe('connected');
    client.close();
  });

  it('the ack is lost with the socket: the message is sent again with the same id, and exactly one run starts', async () => {
    const client = clientOf(app);
    await client.demo();
    await client.connect();
    const dropped = dropOnNext('message_accepted');
    const handle = client.run('script:deltas 20 1');
    await dropped;
    const events = await collect(handle);
    expect(verifyRunEvents(events)).toEqual([]);
    const { runId, threadId } = await handle.accepted;
    expect(events).toEqual(await client.runEvents(runId));
    expect(await threadRuns(await client.accessToken(), threadId)).toHaveLength(1);
    expect(await client.threads()).toHaveLength(1);
    client.close();
  });

  it('the socket dies before the message is read: it is sent again and runs once', async () => {
    const client = clientOf(app);
    await client.demo();
    await client.connect();
    const handle = client.run('script:deltas 10 1');
    dropAllSockets();
    const events = await collect(handle);
    expect(verifyRunEvents(events)).toEqual([]);
    expect(await client.threads()).toHaveLength(1);
    client.close();
  });

  it('a second device joins mid-run: activeRuns is resumed from the start, and follow() yields the whole run once', async () => {
    const email = uniqueEmail('sdk-devices');
    const laptop = clientOf(app);
    await laptop.register(email, PASSWORD);
    const handle = laptop.run('script:deltas 300 4');
    const { runId } = await handle.accepted;
    let seenOnLaptop = 0;
    laptop.onEvent((e) => {
      if (e.runId === runId) seenOnLaptop = e.seq;
    });
    await until(() => seenOnLaptop >= 40, 'the run to be under way');

    const phone = clientOf(app);
    const phoneSeen = recordEvents(phone);
    await phone.login(email, PASSWORD);
    await phone.connect();
    const followed = await collect(phone.follow(runId));
    const full = await collect(handle);
    expect(verifyRunEvents(full)).toEqual([]);
    expect(followed).toEqual(full);
    expect(phoneSeen.get(runId)).toEqual(full);
    // follow() from a later seq replays only the tail, from memory now that the run is held.
    const tail = await collect(phone.follow(runId, 295));
    expect(seqsOf(tail)).toEqual([296, 297, 298, 299, 300, 301, 302]);
    laptop.close();
    phone.close();
  });

  it('follow() of a finished run the client never saw: resumed from afterSeq, and an earlier afterSeq is read back over HTTP', async () => {
    const email = uniqueEmail('sdk-follow');
    const first = clientOf(app);
    await first.register(email, PASSWORD);
    const ran = await collect(first.run('script:deltas 12 1'));
    const runId = ran[0]?.runId ?? '';
    first.close();

    const later = clientOf(app);
    const seen = recordEvents(later);
    await later.login(email, PASSWORD);
    expect(await collect(later.follow(runId, 8))).toEqual(ran.slice(8));
    // Seqs 1..8 were never held by this client: they come from GET /runs/:id/events, then the held ones.
    expect(await collect(later.follow(runId, 2))).toEqual(ran.slice(2));
    // onEvent saw what the socket brought (from seq 9), once.
    expect(seqsOf(seen.get(runId) ?? [])).toEqual(seqsOf(ran.slice(8)));
    const unknown = later.follow('00000000-0000-4000-8000-000000000000');
    await expect(unknown.done).rejects.toMatchObject({ code: 'not_found' });
    later.close();
  });
});

describe('SDK: server restart', () => {
  it('close 1001 at shutdown: the client retries until the server is back, resumes the run and gets its end (interrupted) once', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'agentgate-sdk-restart-'));
    let first: TestApp | undefined = await createTestApp(
      { DATA_DIR: dataDir, DEMO_MODE: '1' },
      { agent: new ScriptedAgent(commonScripts) },
    );
    let second: TestApp | undefined;
    const client = clientOf(first, { reconnect: { initialDelayMs: 100, maxDelayMs: 300, maxAttempts: 40 } });
    try {
      const states = recordStates(client);
      await client.demo();
      const handle = client.run('script:sleep 30000');
      const received: RunEvent[] = [];
      const consumed = (async () => {
        for await (const e of handle) received.push(e);
      })();
      await until(() => received.length >= 2, 'the run to start');
      const port = String(first.port);
      await first.close();
      first = undefined;
      second = await createTestApp({ DATA_DIR: dataDir, DEMO_MODE: '1', PORT: port });
      await consumed;
      expect(verifyRunEvents(received)).toEqual([]);
      expect(received.at(-1)).toMatchObject({ type: 'agent_error', code: 'interrupted' });
      expect(received).toEqual(await client.runEvents(received[0]?.runId ?? ''));
      expect(states.find((s) => s.state === 'reconnecting')?.detail).toMatchObject({
        closeCode: 1001,
        error: { code: 'server_shutting_down' },
      });
      expect(client.state).toBe('connected');
    } finally {
      client.close();
      await first?.close();
      await second?.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
