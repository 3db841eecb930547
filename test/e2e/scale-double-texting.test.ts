import { beforeAll, expect, it } from 'vitest';
import type { RunEvent, ServerMessage } from '../../src/protocol/index.js';
import type { Instance } from '../../src/testing/cluster.js';
import { useCluster } from './helpers/cluster.js';
import { describeWithServices } from '../../src/testing/describe-with-services.js';
import { registerUser, request, type TestSocket } from '../../src/testing/index.js';
import type { Ack, User, WsError } from './helpers/runs.js';

describeWithServices(
  ['postgres', 'redis'],
  'scale-out: exactly-once sends, onBusy and run limits across instances',
  () => {
    const cluster = useCluster(2, { MAX_RUNS_PER_USER: '3' }, 120_000);
    const open = (instance: Instance, user: User): Promise<TestSocket> => cluster.open(instance, user);
    let a: Instance;
    let b: Instance;
    beforeAll(() => {
      [a, b] = cluster.instances as [Instance, Instance];
    });

    const reply = (ws: TestSocket, id: string): Promise<ServerMessage> =>
      ws.next((m) => (m.type === 'message_accepted' || m.type === 'error') && m.replyTo === id, 10_000);

    async function chat(
      ws: TestSocket,
      message: { id: string; text: string; threadId?: string; onBusy?: string },
    ): Promise<Ack> {
      ws.send({ type: 'user_message', ...message });
      const answer = await reply(ws, message.id);
      if (answer.type !== 'message_accepted') throw new Error(`not accepted: ${JSON.stringify(answer)}`);
      return answer;
    }

    const started = (ws: TestSocket, runId: string) =>
      ws.next((m) => m.type === 'agent_started' && m.runId === runId, 10_000) as Promise<RunEvent>;

    async function threadRuns(user: User, threadId: string): Promise<Array<{ id: string; status: string }>> {
      const res = await request<{ thread: { runs: Array<{ id: string; status: string }> } }>(
        a.url,
        'GET',
        `/threads/${threadId}`,
        { token: user.accessToken },
      );
      return res.body.thread.runs;
    }

    it('one message id sent at once on two instances starts one run; both sockets get its ack, and a later re-send anywhere too', async () => {
      const user = await registerUser(a.url, 'once');
      const onA = await open(a, user);
      const onB = await open(b, user);
      const first = await chat(onA, { id: 'setup', text: 'hello' });
      await onA.runEvents(first.runId, 10_000);

      const message = { type: 'user_message', id: 'same-id', threadId: first.threadId, text: 'calculate 1+1' };
      onA.send(message);
      onB.send(message);
      const [ackA, ackB] = (await Promise.all([reply(onA, 'same-id'), reply(onB, 'same-id')])) as [Ack, Ack];
      expect(ackA.type).toBe('message_accepted');
      expect(ackB).toEqual(ackA);
      await onA.runEvents(ackA.runId, 10_000);
      // A retry after the run ended, from a new connection on the other instance: the same ack, nothing new.
      const retry = await open(b, user);
      retry.send(message);
      expect(await reply(retry, 'same-id')).toEqual(ackA);
      await new Promise((r) => setTimeout(r, 300));
      expect((await threadRuns(user, first.threadId)).map((r) => r.id)).toEqual([first.runId, ackA.runId]);
      expect(onA.messages.filter((m) => m.type === 'agent_started').length).toBe(2);
    });

    it('enqueue: messages on one thread sent to alternating instances run one after another, in order, without overlap', async () => {
      const user = await registerUser(a.url, 'queue');
      const onA = await open(a, user);
      const onB = await open(b, user);
      const first = await chat(onA, { id: 'q1', text: 'wait 1 seconds' });
      const second = await chat(onB, { id: 'q2', threadId: first.threadId, text: 'wait 1 seconds' });
      const third = await chat(onA, { id: 'q3', threadId: first.threadId, text: 'calculate 2*3' });
      const spans = [];
      for (const ack of [first, second, third]) {
        const events = await onA.runEvents(ack.runId, 15_000);
        expect(events.at(-1)?.type).toBe('agent_completed');
        spans.push({ start: Date.parse(events[0]!.ts), end: Date.parse(events.at(-1)!.ts) });
      }
      expect(spans[1]!.start).toBeGreaterThanOrEqual(spans[0]!.end);
      expect(spans[2]!.start).toBeGreaterThanOrEqual(spans[1]!.end);
    });

    it('reject: a message for a thread whose run executes on the other instance gets thread_busy and changes nothing', async () => {
      const user = await registerUser(a.url, 'reject');
      const onA = await open(a, user);
      const onB = await open(b, user);
      const running = await chat(onA, { id: 'long', text: 'wait 3 seconds' });
      await started(onA, running.runId);
      onB.send({ type: 'user_message', id: 'extra', threadId: running.threadId, text: 'hello', onBusy: 'reject' });
      expect((await reply(onB, 'extra')) as WsError).toMatchObject({
        type: 'error',
        code: 'thread_busy',
        replyTo: 'extra',
      });
      expect((await threadRuns(user, running.threadId)).map((r) => r.id)).toEqual([running.runId]);
    });

    it('interrupt: the run on the other instance ends run_cancelled, then the new one starts and completes', async () => {
      const user = await registerUser(a.url, 'interrupt');
      const onA = await open(a, user);
      const onB = await open(b, user);
      const running = await chat(onA, { id: 'long', text: 'wait 30 seconds' });
      await started(onA, running.runId);
      const next = await chat(onB, {
        id: 'now',
        threadId: running.threadId,
        text: 'calculate 6*7',
        onBusy: 'interrupt',
      });
      const cancelled = await onB.runEvents(running.runId, 5_000);
      expect(cancelled.at(-1)?.type).toBe('run_cancelled');
      const answer = await onB.runEvents(next.runId, 10_000);
      expect(answer.at(-1)?.type).toBe('agent_completed');
      expect(Date.parse(answer[0]!.ts)).toBeGreaterThanOrEqual(Date.parse(cancelled.at(-1)!.ts));
    });

    it('MAX_RUNS_PER_USER counts the runs in progress on every instance', async () => {
      const user = await registerUser(a.url, 'limit');
      const onA = await open(a, user);
      const onB = await open(b, user);
      const runs = [
        await chat(onA, { id: 'l1', text: 'wait 3 seconds' }),
        await chat(onB, { id: 'l2', text: 'wait 3 seconds' }),
        await chat(onA, { id: 'l3', text: 'wait 3 seconds' }),
      ];
      onB.send({ type: 'user_message', id: 'l4', text: 'hello' });
      expect((await reply(onB, 'l4')) as WsError).toMatchObject({ type: 'error', code: 'too_many_runs' });
      for (const r of runs) await request(a.url, 'POST', `/runs/${r.runId}/cancel`, { token: user.accessToken });
    });
  },
);
