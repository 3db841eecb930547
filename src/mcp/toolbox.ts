import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from 'pino';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { RunContext, ToolContext, ToolOutcome, ToolSource, ToolSpec } from '../agents/index.js';
import type { McpServerConfig } from '../config/index.js';
import { failure, type McpTool } from './connection.js';
import { McpUnavailable, PerUserServer, ProcessBudget, SharedServer, type McpServer } from './servers.js';

export interface McpToolboxOptions {
  readonly dataDir: string;
  readonly toolTimeoutMs: number;
  readonly userIdleMs: number;
  readonly maxProcesses: number;
  readonly logger: Logger;
  /** forwardIdentity: signs the calling user's agent token for a server (`audience`: its URL's origin). */
  readonly signIdentity?: ((subject: IdentitySubject, audience: string) => Promise<string>) | undefined;
}

export interface IdentitySubject {
  readonly userId: string;
  readonly threadId?: string | undefined;
  readonly runId?: string | undefined;
}

/** The run a call to a forwardIdentity server is made for: its requests carry that run's token. */
const callingRun = new AsyncLocalStorage<RunContext>();

/** What the model providers accept as a tool name (OpenAI and Anthropic alike). */
const PROVIDER_TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;
/** At least this long for a server to start and list its tools. */
const START_TIMEOUT_MS = 30_000;
/** Separates the server's name from its tool's in the names models see. */
const SEPARATOR = '__';

/**
 * The tools of every MCP server in MCP_CONFIG, as one ToolSource named `<server>__<tool>`. Servers that fail do
 * not stop agentgate: they are retried, named down in /health/ready, and their tools fail `tool_unavailable`.
 */
export class McpToolbox implements ToolSource {
  private readonly servers: McpServer[];
  /** Model-facing name → server and the server's own tool name. */
  private byName = new Map<string, { readonly server: McpServer; readonly tool: string }>();
  private specList: ToolSpec[] = [];
  private readonly toolsOf = new Map<string, readonly McpTool[]>();
  private readonly warned = new Set<string>();
  readonly budget: ProcessBudget;

  constructor(
    configs: readonly McpServerConfig[],
    private readonly options: McpToolboxOptions,
  ) {
    this.budget = new ProcessBudget(options.maxProcesses);
    const ctx = {
      dataDir: options.dataDir,
      // A process started with npx may first download its package: start-up gets longer than one call.
      timeoutMs: Math.max(options.toolTimeoutMs, START_TIMEOUT_MS),
      logger: options.logger,
      onTools: (server: string, tools: readonly McpTool[]) => this.toolsChanged(server, tools),
    };
    this.servers = configs.map((config) => {
      const perUser = config.transport === 'stdio' ? config.scope === 'user' : config.forwardIdentity;
      if (!perUser) return new SharedServer(config, ctx);
      const { signIdentity } = options;
      const fetchFor =
        config.transport === 'http' && signIdentity !== undefined
          ? (userId: string) => identityFetch(userId, new URL(config.url).origin, signIdentity)
          : undefined;
      return new PerUserServer(config, ctx, { idleMs: options.userIdleMs, budget: this.budget, fetchFor });
    });
  }

  /** Starts every server at once; resolves when each is up or has failed (and is being retried). */
  async start(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.start()));
  }

  /** `mcp:<name>` → up or not, for /health/ready (informational: a down server does not make agentgate unready). */
  health(): Record<string, boolean> {
    return Object.fromEntries(this.servers.map((s) => [`mcp:${s.config.name}`, s.up]));
  }

  /** Tools of servers whose entry says `"requireApproval": true`, as TOOLS_REQUIRING_APPROVAL patterns. */
  approvalPatterns(): string[] {
    return this.servers.filter((s) => s.config.requireApproval).map((s) => `${s.config.name}${SEPARATOR}*`);
  }

  specs(): ToolSpec[] {
    return this.specList;
  }

  /** Per-user sessions running now (processes, for stdio servers), over every server. */
  get processCount(): number {
    return this.budget.size;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  async invoke(name: string, args: unknown, ctx: ToolContext): Promise<ToolOutcome> {
    const entry = this.byName.get(name);
    if (entry === undefined) return failure('unknown_tool', `Unknown tool "${name}".`);
    let connection;
    try {
      connection = await entry.server.connectionFor(ctx.run.userId);
    } catch (err) {
      ctx.signal.throwIfAborted();
      return failure('tool_unavailable', err instanceof McpUnavailable ? err.message : 'The MCP server is down.');
    }
    const outcome = await callingRun.run(ctx.run, () =>
      connection.call(entry.tool, args, ctx.signal, this.options.toolTimeoutMs),
    );
    if (outcome.ok && entry.server instanceof PerUserServer) entry.server.succeeded(ctx.run.userId);
    return outcome;
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.close()));
  }

  private toolsChanged(server: string, tools: readonly McpTool[]): void {
    this.toolsOf.set(server, tools);
    const byName = new Map<string, { server: McpServer; tool: string }>();
    const specs: ToolSpec[] = [];
    for (const s of this.servers) {
      for (const tool of this.toolsOf.get(s.config.name) ?? []) {
        const name = `${s.config.name}${SEPARATOR}${tool.name}`;
        if (!PROVIDER_TOOL_NAME.test(name)) {
          this.warnOnce(name, s.config.name, tool.name);
          continue;
        }
        byName.set(name, { server: s, tool: tool.name });
        specs.push(Object.freeze({ name, description: tool.description, parameters: tool.inputSchema }));
      }
    }
    // Swapped whole: a run reading specs while a list changes sees one list or the other.
    this.byName = byName;
    this.specList = specs;
  }

  private warnOnce(name: string, server: string, tool: string): void {
    if (this.warned.has(name)) return;
    this.warned.add(name);
    this.options.logger.warn(
      { mcpServer: server, tool: tool.slice(0, 200) },
      'mcp tool skipped: its name as <server>__<tool> is not 1-64 letters, digits, _ or - (what model APIs accept)',
    );
  }
}

/** A fetch that signs a fresh agent token (at most 5 minutes) into every request of one user's session. */
function identityFetch(
  userId: string,
  audience: string,
  sign: (subject: IdentitySubject, audience: string) => Promise<string>,
): FetchLike {
  return async (url, init) => {
    const run = callingRun.getStore();
    const subject = run?.userId === userId ? { userId, threadId: run.threadId, runId: run.runId } : { userId };
    const headers = new Headers(init?.headers);
    headers.set('authorization', `Bearer ${await sign(subject, audience)}`);
    return fetch(url, { ...init, headers });
  };
}
