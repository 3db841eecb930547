import { generateKeyPairSync } from 'node:crypto';
import { EventType } from '@ag-ui/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { agentTokenVerifier } from '../../docs/examples/verify-agent-token.js';
import { verifyRunEvents, type RunEvent } from '../../src/protocol/index.js';
import type { Instance } from '../../src/testing/cluster.js';
import { describeWithServices } from '../../src/testing/describe-with-services.js';
import { aguiRun, FakeAguiAgent, runStarted, stateSnapshot, textMessage } from '../../src/testing/agui-agent/index.js';
import { registerUser, request } from '../../src/testing/index.js';
import { useCluster } from './helpers/cluster.js';
import type { Ack } from './helpers/runs.js';

/** LLM_PROVIDER=agui on PostgreSQL + Redis: the run on one instance, the sockets on another. */

const fake = await FakeAguiAgent.start();
afterAll(() => fake.close());
const AGENT_SIGNING_KEY = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

describeWithServices(['postgres', 'redis'], 'scale-out: an AG-UI agent behind two instances', () => {
  const cluster = useCluster(2, {
    LLM_PROVIDER: 'agui',
    AGENT_URL: fake.url,
    AGENT_SIGNING_KEY,
    INSTANCE_LEASE_MS: '2000',
  });
  let a: Instance;
  let b: Instance;
  beforeAll(() => {
    [a, b] = cluster.instances as [Instance, Instance];
  });

  it("a run executed on one instance reaches the other's sockets whole, agui_event included; resume there equals live; either JWKS verifies its token", async () => {
    const user = await registerUser(a.url, 'agui-scale');
    const onA = await cluster.open(a, user);
    const onB = await cluster.open(b, user);
    fake.enqueue({
      kind: 'script',
      run: async (input, emit) => {
        for (const event of aguiRun(input, stateSnapshot({ n: 1 }), textMessage('m', ['across ', 'instances'])))
          await emit(event);
      },
    });
    onA.send({ type: 'user_message', id: 'x', text: 'hello cluster' });
    const ack = (await onA.next((m) => m.type === 'message_accepted' && m.replyTo === 'x')) as Ack;
    const seenOnB = await onB.runEvents(ack.runId, 15_000);
    const seenOnA = await onA.runEvents(ack.runId, 15_000);
    expect(verifyRunEvents(seenOnB)).toEqual([]);
    expect(seenOnB).toEqual(seenOnA);
    expect(seenOnB.map((e) => e.type)).toEqual([
      'agent_started',
      'agui_event',
      'agent_message_delta',
      'agent_message_delta',
      'agent_completed',
    ]);
    const stored = await request<{ events: RunEvent[] }>(b.url, 'GET', `/runs/${ack.runId}/events?after=0`, {
      token: user.accessToken,
    });
    expect(stored.body.events).toEqual(seenOnA);

    // A late tab on B resumes from the log: the same events.
    const late = await cluster.open(b, user);
    late.send({ type: 'resume', id: 'r', runId: ack.runId, afterSeq: 0 });
    await late.next((m) => m.type === 'resumed' && m.replyTo === 'r');
    expect(late.eventsOf(ack.runId)).toEqual(seenOnA);

    // The token was signed with the shared AGENT_SIGNING_KEY: both instances publish it.
    const authorization = fake.requests.at(-1)?.headers.authorization;
    for (const instance of [a, b]) {
      const verify = agentTokenVerifier({
        jwksUrl: `${instance.url}/.well-known/jwks.json`,
        issuer: 'agentgate',
        audience: new URL(fake.url).origin,
      });
      expect(await verify(authorization)).toEqual({ userId: user.user.id, threadId: ack.threadId, runId: ack.runId });
    }
  });

  it('a cancel sent to the other instance closes the request to the agent', async () => {
    const user = await registerUser(a.url, 'agui-scale-cancel');
    const onA = await cluster.open(a, user);
    const onB = await cluster.open(b, user);
    fake.enqueue({
      kind: 'script',
      run: async (input, emit, signal) => {
        await emit(runStarted(input));
        for (let i = 0; !signal.aborted && i < 300; i++) {
          await emit({ type: EventType.TEXT_MESSAGE_CHUNK, messageId: 'm', delta: `${i} ` });
          await new Promise((r) => setTimeout(r, 50));
        }
      },
    });
    onA.send({ type: 'user_message', id: 'long', text: 'talk' });
    const ack = (await onA.next((m) => m.type === 'message_accepted' && m.replyTo === 'long')) as Ack;
    await onB.next((m) => m.type === 'agent_message_delta' && 'runId' in m && m.runId === ack.runId, 10_000);
    const index = fake.requests.length - 1;
    onB.send({ type: 'cancel_run', runId: ack.runId });
    const events = await onB.runEvents(ack.runId, 10_000);
    expect(events.at(-1)).toMatchObject({ type: 'run_cancelled' });
    await fake.waitFor((requests) => requests[index]?.aborted === true, 5_000);
  });
});
