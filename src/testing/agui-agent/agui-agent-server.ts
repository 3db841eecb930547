import {
  EventType,
  type BaseEvent,
  type RunAgentInput,
  type RunErrorEvent,
  type RunFinishedEvent,
  type RunStartedEvent,
  type StateSnapshotEvent,
  type TextMessageContentEvent,
  type TextMessageEndEvent,
  type TextMessageStartEvent,
  type ToolCallArgsEvent,
  type ToolCallEndEvent,
  type ToolCallResultEvent,
  type ToolCallStartEvent,
} from '@ag-ui/core';
import { EventEncoder } from '@ag-ui/encoder';
import type { Server, ServerResponse } from 'node:http';
import {
  DEFAULT_WAIT_MS,
  listenOnFreePort,
  ScriptedHttpServer,
  sendJson,
  sleep,
  startEventStream,
  type Exchange,
  type RecordedRequest,
} from '../scripted-http-server.js';

export type { RecordedRequest } from '../scripted-http-server.js';

/** What the fake agent answers to one request. */
export type AguiReply =
  | {
      readonly kind: 'events';
      /** Encoded with the official EventEncoder and written as given: never validated, so invalid sequences go out. */
      readonly events: readonly BaseEvent[];
      /** Pause between two events (default 0: all in one go). */
      readonly gapMs?: number;
      /** Stop after this many events and keep the connection open: a stalled stream. */
      readonly stallAfter?: number;
    }
  | {
      readonly kind: 'script';
      /**
       * Answers from the request itself (echo its messages or state). The stream ends when the promise settles; a
       * rejection destroys the socket, as a crashing agent would. `send` is a no-op once the client went away, which
       * `signal` reports.
       */
      readonly run: (
        input: RunAgentInput,
        send: (event: BaseEvent) => Promise<void>,
        signal: AbortSignal,
      ) => Promise<void>;
    }
  /** Exactly this status (default 200), content type (default `text/event-stream`) and body: garbage streams. */
  | { readonly kind: 'raw'; readonly status?: number; readonly contentType?: string; readonly body: string }
  /** A JSON error response (body default: `{ error: <a message naming the status> }`). */
  | { readonly kind: 'error'; readonly status: number; readonly body?: unknown }
  /** Reads the request and never answers: no status, no headers. */
  | { readonly kind: 'stall' }
  /** Destroys the socket without answering. */
  | { readonly kind: 'hangup' };

/** The ids an event sequence belongs to: a RunAgentInput has them, so a script can pass its input. */
export interface RunIds {
  readonly threadId: string;
  readonly runId: string;
}

/**
 * A local stand-in for a team's own AG-UI agent: a real HTTP server on 127.0.0.1 (port 0) accepting a POST of a
 * RunAgentInput on any path, answering each request with the next scripted reply (AG-UI event streams encoded by the
 * official encoder, raw bodies, HTTP errors, stalls, hang-ups), and recording every request, including whether the
 * client aborted it. With no scripted reply left a POST gets a 500 with a JSON body; any other method gets a 405.
 */
export class FakeAguiAgent extends ScriptedHttpServer<AguiReply> {
  /** How many requests nextRequest() has handed out. */
  #taken = 0;

  private constructor(
    server: Server,
    /** The endpoint to configure (any POST path is accepted; this one reads well in logs). */
    readonly url: string,
  ) {
    super(server, { name: 'fake AG-UI agent' });
  }

  static async start(): Promise<FakeAguiAgent> {
    const { server, origin } = await listenOnFreePort();
    return new FakeAguiAgent(server, `${origin}/agent`);
  }

  /** The first request no earlier call returned (already recorded or still to come). */
  async nextRequest(timeoutMs = DEFAULT_WAIT_MS): Promise<RecordedRequest> {
    const index = this.#taken++;
    try {
      await this.waitFor((requests) => requests.length > index, timeoutMs);
    } catch (error) {
      this.#taken--;
      throw error;
    }
    return this.requests[index]!;
  }

  /** Resolves with the recorded requests once there are at least `count`. */
  async waitForRequests(count: number, timeoutMs = DEFAULT_WAIT_MS): Promise<readonly RecordedRequest[]> {
    await this.waitFor((requests) => requests.length >= count, timeoutMs);
    return this.requests;
  }

  /** Resolves with request `index` once the client went away before its response ended. */
  async waitForAbort(index: number, timeoutMs = DEFAULT_WAIT_MS): Promise<RecordedRequest> {
    await this.waitFor((requests) => requests[index]?.aborted === true, timeoutMs);
    return this.requests[index]!;
  }

  protected answer({ req, res, recorded, clientGone, hangUp }: Exchange): Promise<void> | void {
    if (req.method !== 'POST') {
      return sendJson(res, 405, { error: `fake AG-UI agent: ${req.method} not allowed, POST a RunAgentInput` });
    }
    const reply = this.takeReply() ?? {
      kind: 'error',
      status: 500,
      body: { error: 'fake AG-UI agent: no scripted reply left' },
    };
    switch (reply.kind) {
      case 'stall':
        return;
      case 'hangup':
        return hangUp();
      case 'error':
        return sendJson(res, reply.status, reply.body ?? { error: `fake AG-UI agent: scripted ${reply.status}` });
      case 'raw':
        res.writeHead(reply.status ?? 200, {
          'content-type': reply.contentType ?? 'text/event-stream',
          'content-length': Buffer.byteLength(reply.body),
        });
        return void res.end(reply.body);
      case 'events':
        return this.#events(res, reply);
      case 'script':
        return this.#script(res, recorded.body, reply, clientGone);
    }
  }

  async #events(res: ServerResponse, reply: Extract<AguiReply, { kind: 'events' }>): Promise<void> {
    const send = openStream(res);
    const count = Math.min(reply.stallAfter ?? reply.events.length, reply.events.length);
    for (let i = 0; i < count; i++) {
      if (i > 0 && reply.gapMs) await sleep(reply.gapMs);
      if (res.destroyed) return;
      await send(reply.events[i]!);
    }
    if (reply.stallAfter === undefined && !res.destroyed) res.end();
  }

  async #script(
    res: ServerResponse,
    body: unknown,
    reply: Extract<AguiReply, { kind: 'script' }>,
    signal: AbortSignal,
  ): Promise<void> {
    if (typeof body !== 'object' || body === null) {
      return sendJson(res, 400, { error: 'fake AG-UI agent: the body is not a JSON RunAgentInput' });
    }
    const send = openStream(res);
    try {
      // Not validated: the test that scripted the reply knows what its client sends.
      await reply.run(body as RunAgentInput, send, signal);
    } catch {
      return void res.destroy();
    }
    if (!res.destroyed) res.end();
  }
}

/** Starts a 200 event stream and returns how to write one event to it (waiting for the socket to drain). */
function openStream(res: ServerResponse): (event: BaseEvent) => Promise<void> {
  // No Accept handed over: the encoder then always speaks SSE, the format agentgate asks for.
  const encoder = new EventEncoder();
  startEventStream(res, encoder.getContentType());
  res.flushHeaders();
  return async (event) => {
    if (res.destroyed || res.writableEnded) return;
    if (res.write(encoder.encodeSSE(event))) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        res.off('drain', done);
        res.off('close', done);
        resolve();
      };
      res.on('drain', done);
      res.on('close', done);
    });
  };
}

// Event builders: well-formed sequences the official client accepts, to compose or break on purpose.

export function runStarted(ids: RunIds): RunStartedEvent {
  return { type: EventType.RUN_STARTED, threadId: ids.threadId, runId: ids.runId };
}

export function runFinished(ids: RunIds, result?: unknown): RunFinishedEvent {
  return {
    type: EventType.RUN_FINISHED,
    threadId: ids.threadId,
    runId: ids.runId,
    ...(result === undefined ? {} : { result }),
  };
}

export function runError(message: string, code?: string): RunErrorEvent {
  return { type: EventType.RUN_ERROR, message, ...(code === undefined ? {} : { code }) };
}

export function stateSnapshot(snapshot: unknown): StateSnapshotEvent {
  return { type: EventType.STATE_SNAPSHOT, snapshot };
}

/** TEXT_MESSAGE_START (assistant), one TEXT_MESSAGE_CONTENT per part, TEXT_MESSAGE_END. */
export function textMessage(
  messageId: string,
  parts: readonly string[],
): [TextMessageStartEvent, ...TextMessageContentEvent[], TextMessageEndEvent] {
  return [
    { type: EventType.TEXT_MESSAGE_START, messageId, role: 'assistant' },
    ...parts.map((delta): TextMessageContentEvent => ({ type: EventType.TEXT_MESSAGE_CONTENT, messageId, delta })),
    { type: EventType.TEXT_MESSAGE_END, messageId },
  ];
}

/**
 * TOOL_CALL_START, TOOL_CALL_ARGS in two pieces (so the client must join them), TOOL_CALL_END. A string `args` is
 * sent as is (broken JSON on purpose); anything else is JSON-encoded.
 */
export function toolCall(
  toolCallId: string,
  name: string,
  args: string | Readonly<Record<string, unknown>>,
  parentMessageId?: string,
): [ToolCallStartEvent, ToolCallArgsEvent, ToolCallArgsEvent, ToolCallEndEvent] {
  const json = typeof args === 'string' ? args : JSON.stringify(args);
  const half = Math.floor(json.length / 2);
  return [
    {
      type: EventType.TOOL_CALL_START,
      toolCallId,
      toolCallName: name,
      ...(parentMessageId === undefined ? {} : { parentMessageId }),
    },
    { type: EventType.TOOL_CALL_ARGS, toolCallId, delta: json.slice(0, half) },
    { type: EventType.TOOL_CALL_ARGS, toolCallId, delta: json.slice(half) },
    { type: EventType.TOOL_CALL_END, toolCallId },
  ];
}

export function toolResult(
  toolCallId: string,
  content: string,
  messageId = `result-${toolCallId}`,
): ToolCallResultEvent {
  return { type: EventType.TOOL_CALL_RESULT, messageId, toolCallId, content, role: 'tool' };
}

/** RUN_STARTED, the given events (single or sequences, flattened in order), RUN_FINISHED. */
export function aguiRun(ids: RunIds, ...parts: readonly (BaseEvent | readonly BaseEvent[])[]): BaseEvent[] {
  return [runStarted(ids), ...parts.flat(), runFinished(ids)];
}

/** A whole run answering with one assistant text message streamed in `parts`. */
export function textRun(ids: RunIds, parts: readonly string[], messageId = `msg-${ids.runId}`): BaseEvent[] {
  return aguiRun(ids, textMessage(messageId, parts));
}
