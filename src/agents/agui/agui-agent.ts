import type * as AguiClient from '@ag-ui/client';
import type * as Rxjs from 'rxjs';
import type { BaseEvent, RunAgentInput } from '@ag-ui/core';
import { AppError, isAppError } from '../../errors/index.js';
import type { Agent, AgentIO, AgentRequest, AgentResult } from '../agent.js';
import { AguiEventMapper } from './event-mapper.js';
import { legacyThinking } from './legacy-thinking.js';
import { redactText } from './redactor.js';

/** What a run needs of the official client and of rxjs (which it is built on). */
interface Wire {
  readonly client: typeof AguiClient;
  readonly map: typeof Rxjs.map;
}

export interface AguiAgentSettings {
  /** AGENT_URL. */
  readonly url: string;
  /** AGENT_TIMEOUT_MS: for the response headers, then between two events. */
  readonly timeoutMs: number;
}

export interface AguiAgentDeps {
  /** Signs the agent token of one request (AgentTokens). */
  readonly signToken: (subject: { userId: string; threadId: string; runId: string }) => Promise<string>;
}

/**
 * A team's own agent, reached over AG-UI: each run POSTs a RunAgentInput to AGENT_URL and maps the event stream
 * back onto the run. The wire is the official client's (@ag-ui/client: request, SSE parsing, chunk expansion,
 * schema and order checks); this class adds identity, time limits, cancellation and the mapping. No retry once the
 * request is sent: the agent may have acted.
 */
export class AguiAgent implements Agent {
  readonly name = 'agui';
  readonly usesThreadState = true;

  #wire: Promise<Wire> | undefined;

  constructor(
    private readonly settings: AguiAgentSettings,
    private readonly deps: AguiAgentDeps,
  ) {}

  /**
   * Loads the official client and rxjs, once: the server calls it at start-up, else the first run does. Never at
   * import: a server whose LLM_PROVIDER is another does not carry them (about 30 MiB resident).
   */
  load(): Promise<Wire> {
    return (this.#wire ??= Promise.all([import('@ag-ui/client'), import('rxjs')]).then(([client, { map }]) => ({
      client,
      map,
    })));
  }

  async run(request: AgentRequest, io: AgentIO): Promise<AgentResult> {
    const { userId, threadId, runId } = request.context;
    const wire = await this.load();
    const token = await this.deps.signToken({ userId, threadId, runId });
    const mapper = new AguiEventMapper(io, token, request.state ?? {});
    try {
      await this.stream(wire, request, token, mapper);
    } catch (err) {
      throw toAppError(err, token, this.settings.timeoutMs);
    } finally {
      mapper.closeOpenToolCalls();
    }
    const outcome = mapper.outcome;
    if (outcome === undefined) {
      throw new AppError('agent_protocol_error', 'The agent ended its event stream without RUN_FINISHED or RUN_ERROR.');
    }
    if (outcome.kind === 'error') throw new AppError('agent_failed', outcome.message || 'The agent reported an error.');
    return { text: mapper.text };
  }

  /** Resolves when the agent's stream ends; rejects on failure, timeout or cancel (the request is then aborted). */
  private stream(wire: Wire, request: AgentRequest, token: string, mapper: AguiEventMapper): Promise<void> {
    const { HttpAgent, enforceEvents, transformChunks, verifyEvents } = wire.client;
    const input: RunAgentInput = {
      threadId: request.context.threadId,
      runId: request.context.runId,
      messages: [
        ...request.history.map((m) => ({ id: m.id, role: m.role, content: m.text })),
        { id: request.messageId, role: 'user' as const, content: request.text },
      ],
      tools: [],
      context: [],
      state: request.state ?? {},
      forwardedProps: {},
    };
    // A cancel that came while the history was read or the token signed: nothing is sent.
    request.signal.throwIfAborted();
    const abort = new AbortController();
    const agent = new HttpAgent({ url: this.settings.url, headers: { Authorization: `Bearer ${token}` } });
    agent.abortController = abort;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      // Assigned once subscribed; finish() may run before that (the pipeline can fail while subscribing).
      let subscription: { unsubscribe(): void } | undefined = undefined;
      // Every way this ends (the agent's last event, a failure, a timeout, a cancel) closes the request, once.
      const finish = (err?: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        request.signal.removeEventListener('abort', onCancel);
        subscription?.unsubscribe();
        abort.abort();
        if (err === undefined) resolve();
        // A cancel rejects with the run's own abort reason, which the run maps to its terminal event.
        else reject(err instanceof Error ? err : new Error('the agent request failed', { cause: err }));
      };
      // No response headers, then no event, for AGENT_TIMEOUT_MS: the agent is stuck.
      const watch = (): void => {
        clearTimeout(timer);
        timer = setTimeout(() => finish(new AgentTimeout()), this.settings.timeoutMs);
      };
      const onCancel = (): void => finish(request.signal.reason);
      request.signal.addEventListener('abort', onCancel, { once: true });
      let broken: unknown;
      agent.fetch = async (url, init) => {
        const response = await fetch(url, init);
        watch();
        const type = response.headers.get('content-type') ?? '';
        // The client reads any answer as SSE: a page or a JSON body that happens to parse must not pass for one.
        if (response.ok && !/^text\/event-stream\b/i.test(type)) {
          await response.body?.cancel().catch(() => {});
          throw new AppError(
            'agent_protocol_error',
            `The agent answered ${type || 'without a content type'}, not text/event-stream.`,
          );
        }
        return endingQuietly(response, (err) => (broken = err));
      };
      watch();
      subscription = agent
        .run(input)
        .pipe(wire.map(legacyThinking()), enforceEvents(), transformChunks(), verifyEvents())
        .subscribe({
          next: (event: BaseEvent) => {
            watch();
            try {
              mapper.map(event);
            } catch (err) {
              return finish(err);
            }
            // RUN_FINISHED or RUN_ERROR: the run is over, whether or not the agent closes its connection.
            if (mapper.outcome !== undefined) finish();
          },
          error: (err: unknown) => finish(err),
          complete: () =>
            finish(
              broken !== undefined && mapper.outcome === undefined
                ? new AppError(
                    'agent_protocol_error',
                    'The agent broke off its event stream before RUN_FINISHED or RUN_ERROR.',
                  )
                : undefined,
            ),
        });
      // The pipeline failed while subscribing: finish() ran before there was a subscription to end.
      if (settled) subscription.unsubscribe();
    });
  }
}

class AgentTimeout extends Error {}

/**
 * The response with a body that ends instead of failing when the connection breaks (the failure goes to
 * `onBreak`). The client reads bodies through a reader whose cancel, on a body that failed, rethrows outside any
 * promise chain: an agent dropping its connection mid-stream would end this process with an unhandled rejection.
 */
function endingQuietly(response: Response, onBreak: (err: unknown) => void): Response {
  const source = response.body;
  if (source === null) return response;
  const reader = source.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = (await reader.read()) as { done: boolean; value?: Uint8Array };
        if (done || value === undefined) controller.close();
        else controller.enqueue(value);
      } catch (err) {
        onBreak(err);
        controller.close();
      }
    },
    cancel: (reason) => reader.cancel(reason).catch(() => {}),
  });
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}

/**
 * What went wrong, as the run's agent_error code. Nothing of the token survives in the message, and the original
 * error is not kept as a cause: what the agent sent (an error body, a bad event) may echo it.
 */
function toAppError(err: unknown, token: string, timeoutMs: number): unknown {
  // Our own messages may quote the agent: keep the token out of them too.
  if (isAppError(err)) return new AppError(err.code, redactText(err.message, token));
  if (err instanceof AgentTimeout) {
    return new AppError('agent_timeout', `The agent sent nothing for ${timeoutMs} ms.`);
  }
  const message = redactText(err instanceof Error ? err.message : String(err), token);
  const status = (err as { status?: unknown }).status;
  if (typeof status === 'number') {
    return new AppError('agent_unavailable', `The agent answered HTTP ${status}.`);
  }
  if (err instanceof TypeError && /fetch failed/i.test(message)) {
    const code = (err.cause as { code?: string } | undefined)?.code;
    return new AppError('agent_unavailable', `The agent could not be reached${code ? ` (${code})` : ''}.`);
  }
  return new AppError('agent_protocol_error', `The agent's event stream is not valid AG-UI: ${message}`);
}
