import { randomUUID } from 'node:crypto';
import { EventType, HttpAgent, type BaseEvent, type CustomEvent } from '@ag-ui/client';
import { expect, it } from 'vitest';
import { registerUser, request } from '../../src/testing/index.js';
import { aguiProblems, type AguiEvent } from './helpers/agui.js';
import { useTestApp } from './helpers/runs.js';

/** An approval through POST /agui, seen by the official AG-UI client as CUSTOM events. */
const server = useTestApp({ TOOLS_REQUIRING_APPROVAL: 'calculator' });

it('POST /agui streams the wait as a CUSTOM tool_approval_requested, and its decision as tool_approval_resolved', async () => {
  const user = await registerUser(server.app.url, 'agui-approvals');
  const agent = new HttpAgent({
    url: `${server.app.url}/agui`,
    headers: { Authorization: `Bearer ${user.accessToken}` },
    threadId: randomUUID(),
  });
  agent.addMessage({ id: randomUUID(), role: 'user', content: 'what is 6 * 7' });
  const runId = randomUUID();
  const seen: BaseEvent[] = [];
  const decisions: Array<Promise<number>> = [];
  const { newMessages } = await agent.runAgent(
    { runId, tools: [], context: [] },
    {
      onEvent: ({ event }) => void seen.push(event),
      onCustomEvent: ({ event }) => {
        if (event.name !== 'tool_approval_requested') return;
        const { toolCallId } = event.value as { toolCallId: string };
        decisions.push(
          request(server.app.url, 'POST', `/runs/${runId}/approvals/${toolCallId}`, {
            token: user.accessToken,
            body: { approved: true },
          }).then((r) => r.status),
        );
      },
    },
  );
  expect(await Promise.all(decisions)).toEqual([200]);
  expect(aguiProblems(seen as unknown as AguiEvent[])).toEqual([]);
  const custom = seen.filter((e): e is CustomEvent => e.type === EventType.CUSTOM);
  expect(custom.map((e) => e.name)).toEqual(['tool_approval_requested', 'tool_approval_resolved']);
  const toolCall = seen.find((e) => e.type === EventType.TOOL_CALL_START) as { toolCallId: string } | undefined;
  expect(custom[0]?.value).toMatchObject({
    toolCallId: toolCall?.toolCallId,
    tool: 'calculator',
    args: { expression: expect.any(String) },
    expiresAt: expect.any(String),
  });
  expect(custom[1]?.value).toEqual({ toolCallId: toolCall?.toolCallId, approved: true, reason: 'user' });
  expect(JSON.stringify(newMessages)).toContain('42');
});
