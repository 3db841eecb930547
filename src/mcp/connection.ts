import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ErrorCode, McpError, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import type { ToolErrorCode, ToolOutcome } from '../agents/index.js';

/** A tool as an MCP server lists it. */
export interface McpTool {
  readonly name: string;
  readonly description: string;
  readonly inputSchema: Record<string, unknown>;
}

export interface McpConnectionEvents {
  /** The server said its tools changed (notifications/tools/list_changed) and the new list is read. */
  readonly onToolsChanged: (tools: readonly McpTool[]) => void;
  /** The transport closed: the process exited, or the HTTP session ended. */
  readonly onClosed: () => void;
  readonly onError: (err: Error) => void;
}

const CLIENT_INFO = { name: 'agentgate', version: '0.1.0' };
/** Pages of tools/list read at most: a server that pages forever must not hang start-up. */
const MAX_TOOL_PAGES = 50;

/** One initialized MCP session (one process, or one HTTP session): its tools, and calls with their outcomes. */
export class McpConnection {
  private closedFlag = false;
  /** Calls in progress: a process with one is never stopped for being idle or to make room. */
  inFlight = 0;
  lastUsedAt = Date.now();

  private constructor(
    private readonly client: Client,
    public tools: readonly McpTool[],
  ) {}

  /** Connects, initializes and lists the tools, within `timeoutMs`; closes the transport when any step fails. */
  static async open(transport: Transport, timeoutMs: number, events: McpConnectionEvents): Promise<McpConnection> {
    const client = new Client(CLIENT_INFO, { capabilities: {} });
    let connection: McpConnection | undefined;
    client.onclose = () => {
      if (connection === undefined) return;
      connection.closedFlag = true;
      events.onClosed();
    };
    client.onerror = (err) => events.onError(err);
    try {
      await client.connect(transport, { timeout: timeoutMs });
      connection = new McpConnection(client, await listTools(client, timeoutMs));
    } catch (err) {
      await client.close().catch(() => {});
      throw err;
    }
    const opened = connection;
    client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
      try {
        opened.tools = await listTools(client, timeoutMs);
        events.onToolsChanged(opened.tools);
      } catch (err) {
        events.onError(err as Error);
      }
    });
    return opened;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /**
   * Calls a tool. Every failure is an outcome (tool_error, tool_timeout, tool_unavailable, invalid_arguments),
   * except the run's abort, which is rethrown (the SDK sends notifications/cancelled to the server).
   */
  async call(tool: string, args: unknown, signal: AbortSignal, timeoutMs: number): Promise<ToolOutcome> {
    if (typeof args !== 'object' || args === null || Array.isArray(args))
      return failure('invalid_arguments', `Invalid arguments for ${tool}: expected a JSON object.`);
    this.inFlight++;
    this.lastUsedAt = Date.now();
    // The SDK never removes the abort listener it adds: a signal of its own per call keeps the run's signal from
    // collecting one per call (and Node's warning past ten).
    const call = new AbortController();
    const onAbort = (): void => call.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      // The timeout runs from the request, whatever progress arrives (resetTimeoutOnProgress stays false).
      const result = await this.client.callTool({ name: tool, arguments: args as Record<string, unknown> }, undefined, {
        signal: call.signal,
        timeout: timeoutMs,
      });
      return outcomeOfResult(result as CallResult);
    } catch (err) {
      signal.throwIfAborted();
      return outcomeOfError(err, timeoutMs, this.closedFlag);
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.inFlight--;
      this.lastUsedAt = Date.now();
    }
  }

  async close(): Promise<void> {
    this.closedFlag = true;
    await this.client.close().catch(() => {});
  }
}

async function listTools(client: Client, timeoutMs: number): Promise<McpTool[]> {
  const tools: McpTool[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_TOOL_PAGES; page++) {
    const listed = await client.listTools(cursor === undefined ? {} : { cursor }, { timeout: timeoutMs });
    for (const t of listed.tools)
      tools.push({ name: t.name, description: t.description ?? t.title ?? '', inputSchema: t.inputSchema });
    cursor = listed.nextCursor;
    if (cursor === undefined) break;
  }
  return tools;
}

/** The fields read from a tools/call result (the SDK's type also admits the legacy `toolResult` shape). */
interface CallResult {
  readonly content?: unknown;
  readonly structuredContent?: unknown;
  readonly isError?: unknown;
}

/** CONTRACT: structured content when present, else the text blocks joined with newlines; isError → tool_error. */
export function outcomeOfResult(result: CallResult): ToolOutcome {
  const text = Array.isArray(result.content)
    ? result.content
        .filter((b): b is { type: 'text'; text: string } => isTextBlock(b))
        .map((b) => b.text)
        .join('\n')
    : '';
  if (result.isError === true) return failure('tool_error', text || 'The tool reported an error without a message.');
  if (result.structuredContent !== undefined && result.structuredContent !== null)
    return { ok: true, result: result.structuredContent };
  return { ok: true, result: text };
}

function isTextBlock(block: unknown): boolean {
  return (
    typeof block === 'object' &&
    block !== null &&
    (block as { type?: unknown }).type === 'text' &&
    typeof (block as { text?: unknown }).text === 'string'
  );
}

function outcomeOfError(err: unknown, timeoutMs: number, closed: boolean): ToolOutcome {
  if (err instanceof McpError) {
    const code = err.code as ErrorCode;
    if (code === ErrorCode.RequestTimeout)
      return failure('tool_timeout', `The tool did not answer within ${timeoutMs} ms (MCP_TOOL_TIMEOUT_MS).`);
    if (code === ErrorCode.ConnectionClosed) return failure('tool_unavailable', 'The MCP server went away.');
    if (code === ErrorCode.InvalidParams) return failure('invalid_arguments', err.message);
    return failure('tool_error', err.message);
  }
  if (closed) return failure('tool_unavailable', 'The MCP server went away.');
  // Transport failures (the HTTP server is down, the process's stdin is closed) mean the server is not reachable.
  return failure('tool_unavailable', `The MCP server could not be reached: ${(err as Error).message}`);
}

export function failure(code: ToolErrorCode, message: string): ToolOutcome {
  return { ok: false, error: { code, message } };
}
