import type { RunEvent } from '../../src/protocol/index.js';
import { request, TestSocket } from '../../src/testing/index.js';

/**
 * One exchange on a WebSocket opened with the Bearer token (threads are only ever created this way, or by POST
 * /agui): sends `text` as a new thread's first message and waits until the run has ended, also in storage.
 */
export async function converse(
  baseUrl: string,
  token: string,
  text: string,
): Promise<{ runId: string; threadId: string; events: RunEvent[] }> {
  const ws = await TestSocket.open(`${baseUrl.replace(/^http/, 'ws')}/ws`, {
    headers: { authorization: `Bearer ${token}` },
  });
  try {
    ws.send({ type: 'user_message', text });
    const { runId, threadId } = (await ws.next((m) => m.type === 'message_accepted')) as {
      runId: string;
      threadId: string;
    };
    const events = await ws.runEvents(runId);
    await untilRunsEnded(baseUrl, token, threadId);
    return { runId, threadId, events };
  } finally {
    ws.ws.close();
  }
}

/** A run's terminal event is delivered just before its stored status changes: wait for the status. */
async function untilRunsEnded(baseUrl: string, token: string, threadId: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const res = await request<{ thread: { runs: Array<{ status: string }> } }>(baseUrl, 'GET', `/threads/${threadId}`, {
      token,
    });
    if (res.status === 200 && res.body.thread.runs.every((r) => r.status !== 'running')) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('the run did not end');
}
