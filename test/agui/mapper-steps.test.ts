import { verifyEvents } from '@ag-ui/client';
import type { BaseEvent } from '@ag-ui/core';
import { from, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { AguiMapper } from '../../src/agui/index.js';
import type { RunEvent } from '../../src/protocol/index.js';

const stamp = { runId: 'r', threadId: 't', ts: '2026-12-07T00:00:00.000Z' };

/** The run's AG-UI events, checked by the official client's order rules (it throws on a violation). */
async function asAgui(events: readonly RunEvent[]): Promise<string[]> {
  const mapper = new AguiMapper();
  const mapped = events.flatMap((e) => mapper.map(e)) as BaseEvent[];
  const checked = await lastValueFrom(from(mapped).pipe(verifyEvents(), toArray()));
  return checked.map((e) => e.type);
}

describe('AguiMapper: an AG-UI agent step left open', () => {
  it('is closed before the cancelled run ends, so the stream stays valid AG-UI', async () => {
    const types = await asAgui([
      { ...stamp, seq: 1, type: 'agent_started', agent: 'agui' },
      { ...stamp, seq: 2, type: 'agui_event', event: { type: 'STEP_STARTED', stepName: 'plan' } },
      { ...stamp, seq: 3, type: 'agent_message_delta', text: 'thinking about it' },
      { ...stamp, seq: 4, type: 'run_cancelled' },
    ]);
    expect(types).toEqual([
      'RUN_STARTED',
      'STEP_STARTED',
      'TEXT_MESSAGE_START',
      'TEXT_MESSAGE_CONTENT',
      'TEXT_MESSAGE_END',
      'STEP_FINISHED',
      'RUN_FINISHED',
    ]);
  });

  it('a step the agent finished is not finished twice', async () => {
    const types = await asAgui([
      { ...stamp, seq: 1, type: 'agent_started', agent: 'agui' },
      { ...stamp, seq: 2, type: 'agui_event', event: { type: 'STEP_STARTED', stepName: 'plan' } },
      { ...stamp, seq: 3, type: 'agui_event', event: { type: 'STEP_FINISHED', stepName: 'plan' } },
      { ...stamp, seq: 4, type: 'run_cancelled' },
    ]);
    expect(types).toEqual(['RUN_STARTED', 'STEP_STARTED', 'STEP_FINISHED', 'RUN_FINISHED']);
  });
});
