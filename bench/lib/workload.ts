/**
 * The one workload every server under test serves: a request in, a burst of EVENTS_PER_REQUEST JSON run events of
 * about EVENT_BYTES out. agentgate makes the burst with a real run of the bench agent (`burst 48 23`: agent_started,
 * 48 agent_message_delta, agent_completed = 50 events); the baselines build the same JSON shapes, field for field,
 * with the same per-event work agentgate must do at least (a UUID per run, a timestamp per event, JSON.stringify).
 */
import { randomUUID } from 'node:crypto';

export const EVENTS_PER_REQUEST = 50;
/** agent_message_delta events in a burst: the rest are agent_started and the terminal event. */
export const DELTAS_PER_REQUEST = EVENTS_PER_REQUEST - 2;
/** Delta text length that makes a delta event (two UUIDs, seq, ts) 200 bytes of JSON. */
export const DELTA_CHARS = 23;
export const REQUEST_TEXT = `burst ${DELTAS_PER_REQUEST} ${DELTA_CHARS}`;

/** The text of delta i, DELTA_CHARS long: shared by the bench agent and the baselines. */
export const deltaText = (i: number, chars = DELTA_CHARS): string => `d${i} `.padEnd(chars, 'x');

/** The request frame a client sends: a real agentgate `user_message` (the baselines parse it the same way). */
export const requestFrame = (id: string): string => JSON.stringify({ type: 'user_message', id, text: REQUEST_TEXT });

/** What a baseline server sends for one request: the burst agentgate's run produces, as JSON strings. */
export function baselineBurst(): string[] {
  const runId = randomUUID();
  const threadId = randomUUID();
  const startedAt = Date.now();
  const frames: string[] = [
    JSON.stringify({ type: 'agent_started', agent: 'bench', runId, threadId, seq: 1, ts: new Date().toISOString() }),
  ];
  for (let i = 1; i <= DELTAS_PER_REQUEST; i++) {
    frames.push(
      JSON.stringify({
        type: 'agent_message_delta',
        text: deltaText(i),
        runId,
        threadId,
        seq: i + 1,
        ts: new Date().toISOString(),
      }),
    );
  }
  frames.push(
    JSON.stringify({
      type: 'agent_completed',
      text: `${DELTAS_PER_REQUEST} deltas`,
      durationMs: Date.now() - startedAt,
      runId,
      threadId,
      seq: EVENTS_PER_REQUEST,
      ts: new Date().toISOString(),
    }),
  );
  return frames;
}

/** Byte patterns the load generators look for in a frame (a substring search, no JSON parse). */
export const MARK = {
  runEvent: Buffer.from('"seq":'),
  started: Buffer.from('"agent_started"'),
  completed: Buffer.from('"agent_completed"'),
  agentError: Buffer.from('"agent_error"'),
  cancelled: Buffer.from('"run_cancelled"'),
  error: Buffer.from('"type":"error"'),
  overloaded: Buffer.from('"code":"overloaded"'),
  established: Buffer.from('"connection_established"'),
} as const;
