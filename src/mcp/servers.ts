import type { Logger } from 'pino';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { McpServerConfig } from '../config/index.js';
import { McpConnection, type McpTool } from './connection.js';
import { serverDir, transportFor } from './transports.js';

/** The server cannot take a call now: the call fails `tool_unavailable` with this message. */
export class McpUnavailable extends Error {
  override readonly name = 'McpUnavailable';
}

export interface ServerContext {
  readonly dataDir: string;
  /** Bounds start-up: initialize and tools/list. */
  readonly timeoutMs: number;
  readonly logger: Logger;
  /** The server's tool list changed (or was first read). */
  readonly onTools: (server: string, tools: readonly McpTool[]) => void;
}

/** Restarts wait 1 s, 2 s, 4 s... up to 30 s after consecutive failures. */
export function backoffMs(failures: number): number {
  return Math.min(30_000, 1_000 * 2 ** Math.max(0, failures - 1));
}

/**
 * One session with a server, for `owner` (`shared`, `probe` or a user id): its directory under DATA_DIR, its stderr
 * logged at debug under the server's name, and the caller's reactions to tool-list changes and closing.
 */
function openSession(
  config: McpServerConfig,
  ctx: ServerContext,
  log: Logger,
  session: {
    readonly owner: string;
    readonly fetch?: FetchLike | undefined;
    readonly onToolsChanged: (tools: readonly McpTool[]) => void;
    readonly onClosed: () => void;
  },
): Promise<McpConnection> {
  const transport = transportFor(config, {
    dir: serverDir(ctx.dataDir, config.name, session.owner),
    onStderr: (line) => log.debug({ stderr: line.slice(0, 2000) }, 'mcp server stderr'),
    fetch: session.fetch,
  });
  return McpConnection.open(transport, ctx.timeoutMs, {
    onToolsChanged: session.onToolsChanged,
    onClosed: session.onClosed,
    onError: (err) => log.debug({ err: err.message }, 'mcp transport error'),
  });
}

/** The owner name of the session that lists a per-user server's tools (user ids are UUIDs: never this). */
const PROBE = 'probe';

/** What every kind of server offers the toolbox. */
export interface McpServer {
  readonly config: McpServerConfig;
  /** Up, as far as this instance knows (for /health/ready). */
  readonly up: boolean;
  start(): Promise<void>;
  /** The session a call of this user goes to; throws McpUnavailable. */
  connectionFor(userId: string): Promise<McpConnection>;
  close(): Promise<void>;
}

/**
 * One session for every user: a shared stdio process, or one HTTP session. Started with agentgate; when it fails or
 * dies it is reconnected with backoff, and calls meanwhile fail at once (never wait).
 */
export class SharedServer implements McpServer {
  private connection: McpConnection | undefined;
  private failures = 0;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    readonly config: McpServerConfig,
    private readonly ctx: ServerContext,
  ) {}

  get up(): boolean {
    return this.connection !== undefined && !this.connection.closed;
  }

  async start(): Promise<void> {
    const { config, ctx } = this;
    const log = ctx.logger.child({ mcpServer: config.name });
    try {
      const connection = await openSession(config, ctx, log, {
        owner: 'shared',
        onToolsChanged: (tools) => ctx.onTools(config.name, tools),
        onClosed: () => {
          if (this.stopped) return;
          log.warn('mcp server went away; reconnecting');
          this.scheduleRetry();
        },
      });
      if (this.stopped) return void (await connection.close());
      this.connection = connection;
      this.failures = 0;
      ctx.onTools(config.name, connection.tools);
      log.info({ tools: connection.tools.length }, 'mcp server ready');
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'mcp server failed to start');
      this.scheduleRetry();
    }
  }

  private scheduleRetry(): void {
    if (this.stopped || this.retry !== undefined) return;
    const delay = backoffMs(++this.failures);
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.start();
    }, delay);
    this.retry.unref();
  }

  async connectionFor(): Promise<McpConnection> {
    const connection = this.connection;
    if (connection === undefined || connection.closed)
      throw new McpUnavailable(`The MCP server "${this.config.name}" is down; agentgate is reconnecting to it.`);
    return connection;
  }

  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    await this.connection?.close();
  }
}

/** Caps the per-user processes of one instance, over every server: making room stops the idlest one. */
export class ProcessBudget {
  private readonly members = new Set<{ readonly idleSince: () => number | undefined; stop(): void }>();

  constructor(readonly max: number) {}

  /** Admits one more process, stopping the idlest without a call in progress if full; false when all are busy. */
  admit(member: { readonly idleSince: () => number | undefined; stop(): void }): boolean {
    if (this.members.size >= this.max) {
      let idlest: { since: number; member: typeof member } | undefined;
      for (const m of this.members) {
        const since = m.idleSince();
        if (since !== undefined && (idlest === undefined || since < idlest.since)) idlest = { since, member: m };
      }
      if (idlest === undefined) return false;
      this.members.delete(idlest.member);
      idlest.member.stop();
    }
    this.members.add(member);
    return true;
  }

  release(member: object): void {
    for (const m of this.members) if (m === member) this.members.delete(m);
  }

  get size(): number {
    return this.members.size;
  }
}

interface UserSession {
  connection: McpConnection | undefined;
  starting: Promise<McpConnection> | undefined;
  /** Deaths in a row, and when the next start may be tried. */
  failures: number;
  retryAt: number;
  /** Counts starts and stops: a callback of an earlier process (one agentgate stopped) finds it changed. */
  generation: number;
  readonly member: { readonly idleSince: () => number | undefined; stop(): void };
}

/**
 * One session per user: a stdio server with `"scope": "user"` (a process each, in its own directory) or a URL
 * server with forwardIdentity (an HTTP session each, carrying the user's identity). Started on a user's first call,
 * stopped after `idleMs` without one; a process that dies is started again on the next call, after a backoff.
 * The tool list comes from a probe session started with agentgate (so models see the tools before anyone calls).
 */
export class PerUserServer implements McpServer {
  private readonly sessions = new Map<string, UserSession>();
  private readonly sweeper: NodeJS.Timeout;
  private probeUp = false;
  private probeRetry: NodeJS.Timeout | undefined;
  private probeFailures = 0;
  private stopped = false;

  constructor(
    readonly config: McpServerConfig,
    private readonly ctx: ServerContext,
    private readonly options: {
      readonly idleMs: number;
      readonly budget: ProcessBudget;
      /** forwardIdentity: a fetch that signs the calling user's token into each request. */
      readonly fetchFor?: ((userId: string) => FetchLike) | undefined;
    },
  ) {
    this.sweeper = setInterval(() => this.stopIdle(), Math.max(250, Math.min(options.idleMs / 2, 60_000)));
    this.sweeper.unref();
  }

  get up(): boolean {
    return this.probeUp;
  }

  get sessionCount(): number {
    return [...this.sessions.values()].filter((s) => s.connection !== undefined && !s.connection.closed).length;
  }

  /** Lists the tools with a session of its own (in `DATA_DIR/mcp/<name>/probe`), then stops it. */
  async start(): Promise<void> {
    const log = this.ctx.logger.child({ mcpServer: this.config.name });
    try {
      const probe = await this.open(PROBE, log);
      this.ctx.onTools(this.config.name, probe.tools);
      this.probeUp = true;
      this.probeFailures = 0;
      log.info({ tools: probe.tools.length }, 'mcp server ready (one session per user)');
      await probe.close();
    } catch (err) {
      this.probeUp = false;
      log.warn({ err: (err as Error).message }, 'mcp server failed to start');
      if (this.stopped) return;
      this.probeRetry = setTimeout(() => void this.start(), backoffMs(++this.probeFailures));
      this.probeRetry.unref();
    }
  }

  private open(owner: string, log: Logger, events: { onClosed?: () => void } = {}): Promise<McpConnection> {
    const { config, ctx } = this;
    return openSession(config, ctx, log, {
      owner,
      // forwardIdentity: the probe lists tools under agentgate's own name (`sub: "agentgate"`, no run).
      fetch: this.options.fetchFor?.(owner === PROBE ? 'agentgate' : owner),
      // A user's own process may list tools that depend on that user's state: only the probe's list is everyone's.
      onToolsChanged: (tools) => (owner === PROBE ? ctx.onTools(config.name, tools) : undefined),
      onClosed: () => events.onClosed?.(),
    });
  }

  async connectionFor(userId: string): Promise<McpConnection> {
    if (this.stopped) throw new McpUnavailable('agentgate is shutting down.');
    let session = this.sessions.get(userId);
    if (session?.connection !== undefined && !session.connection.closed) return session.connection;
    if (session?.starting !== undefined) return session.starting;
    const now = Date.now();
    if (session !== undefined && session.retryAt > now) {
      throw new McpUnavailable(
        `The MCP server "${this.config.name}" stopped unexpectedly; it is started again in ${Math.ceil((session.retryAt - now) / 1000)} s.`,
      );
    }
    if (session === undefined) {
      const created: UserSession = {
        connection: undefined,
        starting: undefined,
        failures: 0,
        retryAt: 0,
        generation: 0,
        member: {
          idleSince: () =>
            created.connection !== undefined && created.connection.inFlight === 0
              ? created.connection.lastUsedAt
              : undefined,
          stop: () => void this.stopSession(userId, created),
        },
      };
      session = created;
      this.sessions.set(userId, session);
    }
    if (!this.options.budget.admit(session.member)) {
      throw new McpUnavailable(
        `Every one of this instance's ${this.options.budget.max} MCP server processes (MCP_MAX_PROCESSES) is busy with a call: try again shortly.`,
      );
    }
    return this.startSession(userId, session);
  }

  private startSession(userId: string, session: UserSession): Promise<McpConnection> {
    const log = this.ctx.logger.child({ mcpServer: this.config.name, userId });
    const generation = ++session.generation;
    const current = (): boolean => session.generation === generation && !this.stopped;
    const died = (): void => {
      this.options.budget.release(session.member);
      session.failures++;
      session.retryAt = Date.now() + backoffMs(session.failures);
    };
    const starting = this.open(userId, log, {
      // Only this process's own death counts: one agentgate stopped (idle, room, shutdown) already gave its slot back.
      onClosed: () => {
        if (!current()) return;
        died();
        log.warn({ failures: session.failures }, "a user's mcp server process stopped unexpectedly");
      },
    }).then(
      async (connection) => {
        session.starting = undefined;
        if (!current()) {
          // Stopped while it started (shutdown, or made room for another): it must not run on unseen.
          await connection.close();
          throw new McpUnavailable(`The MCP server "${this.config.name}" was stopped while it started.`);
        }
        session.connection = connection;
        log.info('mcp server process started for a user');
        return connection;
      },
      (err: unknown) => {
        session.starting = undefined;
        if (current()) died();
        log.warn({ err: (err as Error).message }, "a user's mcp server failed to start");
        throw new McpUnavailable(`The MCP server "${this.config.name}" could not be started.`);
      },
    );
    session.starting = starting;
    return starting;
  }

  /** A call that succeeded: the process is healthy again, deaths before it no longer slow its restarts. */
  succeeded(userId: string): void {
    const session = this.sessions.get(userId);
    if (session !== undefined) session.failures = 0;
  }

  private async stopSession(userId: string, session: UserSession): Promise<void> {
    session.generation++;
    this.options.budget.release(session.member);
    const connection = session.connection;
    session.connection = undefined;
    if (session.failures === 0) this.sessions.delete(userId);
    await connection?.close();
  }

  private stopIdle(): void {
    const cutoff = Date.now() - this.options.idleMs;
    for (const [userId, session] of this.sessions) {
      const c = session.connection;
      if (c !== undefined && c.inFlight === 0 && c.lastUsedAt <= cutoff) {
        this.ctx.logger.info({ mcpServer: this.config.name, userId }, 'stopping an idle mcp server process');
        void this.stopSession(userId, session);
      }
    }
  }

  async close(): Promise<void> {
    this.stopped = true;
    clearInterval(this.sweeper);
    clearTimeout(this.probeRetry);
    const sessions = [...this.sessions];
    await Promise.all(sessions.map(([userId, s]) => this.stopSession(userId, s)));
    // Those still starting close themselves once started (their generation changed): wait for them.
    await Promise.all(sessions.map(([, s]) => (s.starting ?? Promise.resolve()).catch(() => {})));
  }
}
