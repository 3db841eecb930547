import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AttemptLimiter, AuthService, Principal, RevocationBus, Tickets } from '../auth/index.js';
import { isAppError } from '../errors/index.js';
import { SUBPROTOCOL, textOf } from '../protocol/index.js';
import type { RunHistory, RunManager, UserEventBus } from '../runs/index.js';
import type { Telemetry } from '../telemetry/index.js';
import { Connection } from './connection.js';
import type { ConnectionLeases, Lease } from './ports.js';
import { HandshakeRefusal, writeRefusal } from './handshake.js';
import { HandshakeWaves } from './handshake-waves.js';
import { handleClientMessage, parseClientMessage } from './messages.js';
import { ConnectionRegistry } from './registry.js';
import { StreamSessions, type EndStream, type StreamSlot } from './stream-sessions.js';
import { authenticateUpgrade } from './upgrade-auth.js';
import { withTimeout } from '../shared/index.js';

export interface GatewayOptions {
  readonly path: string;
  readonly heartbeatIntervalMs: number;
  readonly maxMessageBytes: number;
  readonly maxConnectionsPerUser: number;
  readonly maxBufferedBytes: number;
  readonly isOriginAllowed: (origin: string) => boolean;
  readonly clientAddress: (req: IncomingMessage) => string;
  /** How often the connection leases of this instance are renewed (a third of their lifetime). */
  readonly leaseRenewIntervalMs: number;
}

/** How long a new connection may wait for its event subscription before it is closed to retry elsewhere. */
const SUBSCRIBE_TIMEOUT_MS = 5_000;
/**
 * How long a wave of handshakes gathers (only while others are in progress; an idle server answers at once). On a
 * 2-core machine, PostgreSQL + Redis, 4 ms took the server CPU per Bearer handshake from ~720 to 314-373 µs under
 * the profiler (`npm run bench -- profile --pg --handshakes bearer`; 2 ms: 435); on SQLite it took a refused one
 * (forged Bearer) from ~240 to ~150 µs in `npm run bench -- --full --only handshakes`.
 */
const HANDSHAKE_WAVE_MS = 4;

export interface GatewayDeps {
  readonly auth: AuthService;
  readonly tickets: Tickets;
  readonly runs: RunManager;
  readonly history: RunHistory;
  readonly bus: UserEventBus;
  readonly revocations: RevocationBus;
  readonly leases: ConnectionLeases;
  /** Upgrade attempts per client IP. */
  readonly handshakeLimiter: AttemptLimiter;
  /** Client messages per connection (rate plus burst). */
  readonly messageLimiter: AttemptLimiter;
  readonly telemetry: Telemetry;
  readonly logger: Logger;
  readonly now: () => number;
}

/** How often token expiries are checked: a socket closes 4001 at most this long after its token expired. */
const EXPIRY_SWEEP_MS = 1_000;

/** The WebSocket side of the server: authenticates upgrades, tracks connections, relays messages. */
export class Gateway {
  readonly registry: ConnectionRegistry;
  private readonly streams: StreamSessions;
  private readonly waves = new HandshakeWaves(HANDSHAKE_WAVE_MS);
  private readonly wss: WebSocketServer;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly leaseRenewal: NodeJS.Timeout;
  private readonly expirySweep: NodeJS.Timeout;
  private readonly stopRevocations: () => void;
  private readonly tokenWarnAheadMs: number;

  constructor(
    private readonly options: GatewayOptions,
    private readonly deps: GatewayDeps,
  ) {
    this.registry = new ConnectionRegistry(deps.bus, (connections) => this.resync(connections));
    this.streams = new StreamSessions({
      leases: deps.leases,
      auth: deps.auth,
      maxPerUser: options.maxConnectionsPerUser,
      telemetry: deps.telemetry,
      logger: deps.logger,
    });
    this.wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload: options.maxMessageBytes,
      // Answer with our subprotocol only, never with the bearer.<token> entry that came beside it.
      handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    });
    this.heartbeat = setInterval(() => this.beat(), options.heartbeatIntervalMs);
    this.heartbeat.unref();
    this.leaseRenewal = setInterval(() => this.renewLeases(), options.leaseRenewIntervalMs);
    this.leaseRenewal.unref();
    this.expirySweep = setInterval(() => {
      const nowMs = deps.now();
      for (const conn of this.registry.each()) conn.checkExpiry(nowMs, this.tokenWarnAheadMs);
      this.streams.checkExpiry(nowMs);
    }, EXPIRY_SWEEP_MS);
    this.expirySweep.unref();
    this.stopRevocations = deps.revocations.subscribe((sessionId) => {
      const closed = this.registry.closeSession(sessionId, 'sessionRevoked') + this.streams.closeSession(sessionId);
      if (closed > 0) deps.logger.info({ closed }, 'closed sockets and streams of a revoked session');
    });
    this.tokenWarnAheadMs = 60_000;
  }

  /** The http server's 'upgrade' listener. */
  handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    // Not a closure: it would keep this request's headers alive for as long as the socket lives.
    socket.on('error', destroySocket);
    const url = new URL(req.url ?? '/', 'http://upgrade.invalid');
    if (url.pathname !== this.options.path)
      return this.refuse(socket, new HandshakeRefusal(404, 'not_found', 'No WebSocket endpoint here.'));
    void this.waves.enter().then((through) => {
      try {
        this.upgrade(req, url, socket, head, through);
      } catch (err) {
        through();
        this.deps.logger.error({ err }, 'upgrade failed');
        socket.destroy();
      }
    });
  };

  /** Authenticates, takes a slot and upgrades; `through` is called once the client is answered either way. */
  private upgrade(req: IncomingMessage, url: URL, socket: Duplex, head: Buffer, through: () => void): void {
    const { auth, tickets, handshakeLimiter, now } = this.deps;
    authenticateUpgrade(req, url, {
      auth,
      tickets,
      handshakeLimiter,
      isOriginAllowed: this.options.isOriginAllowed,
      clientAddress: this.options.clientAddress,
      now,
    })
      .then(
        (principal) => this.open(req, socket, head, principal, through),
        (err: unknown) => {
          through();
          const refusal =
            err instanceof HandshakeRefusal ? err : isAppError(err) ? HandshakeRefusal.from(err) : undefined;
          if (refusal === undefined) this.deps.logger.error({ err }, 'upgrade failed');
          // An operator who set ALLOWED_ORIGINS wrong must see it: a refused Origin is a warning, with the origin.
          else if (refusal.code === 'origin_not_allowed')
            this.deps.logger.warn(
              { origin: req.headers.origin, status: refusal.status },
              'upgrade refused: Origin not allowed',
            );
          else this.deps.logger.debug({ status: refusal.status, code: refusal.code }, 'upgrade refused');
          if (refusal?.status === 429) this.deps.telemetry.rateLimited('handshakes');
          this.refuse(socket, refusal ?? new HandshakeRefusal(500, 'internal_error', 'Internal error.'));
        },
      )
      .catch((err: unknown) => {
        through();
        this.deps.logger.error({ err }, 'upgrade failed');
        socket.destroy();
      });
  }

  /** Takes a connection slot (429 when the user has none left, 503 when the slot store cannot answer), then upgrades. */
  private async open(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    principal: Principal,
    through: () => void,
  ): Promise<void> {
    let lease: Lease;
    try {
      lease = await this.streams.takeSlot(principal.userId);
    } catch (err) {
      through();
      if (!isAppError(err)) throw err;
      return this.refuse(socket, HandshakeRefusal.from(err));
    }
    let accepted = false;
    // The 101 waits in the socket until connection_established joins it: one write for both instead of two (accept
    // uncorks once it is sent, or the connection is closed).
    socket.cork();
    try {
      if (!socket.destroyed) {
        this.wss.handleUpgrade(req, socket, head, (ws) => {
          accepted = true;
          this.accept(ws, socket, principal, lease, through);
        });
      }
    } finally {
      // accept() runs synchronously inside handleUpgrade; otherwise the upgrade failed and the slot goes back.
      if (!accepted) {
        socket.uncork();
        through();
        this.releaseLease(lease);
      }
    }
  }

  private releaseLease(lease: Lease): void {
    this.deps.leases
      .release(lease)
      .catch((err: unknown) => this.deps.logger.warn({ err }, 'connection slot not released (it expires on its own)'));
  }

  /**
   * Takes one of the user's connection slots for a stream that is not a socket (SSE), held to the same session
   * rules: it is ended, with the reason, when its session is revoked or its access token expires.
   */
  admitStream(principal: Principal, end: EndStream): Promise<StreamSlot> {
    return this.streams.admit(principal, end);
  }

  private renewLeases(): void {
    const leases = [
      ...this.registry.all().map((c) => ({ userId: c.userId, connectionId: c.id })),
      ...this.streams.leases(),
    ];
    if (leases.length === 0) return;
    this.deps.leases
      .renew(leases)
      .catch((err: unknown) => this.deps.logger.warn({ err }, 'connection slot renewal failed'));
  }

  /**
   * The bus may have dropped messages to these connections: fill their runs' gaps from the EventLog, and re-check
   * their sessions, since a revocation announced meanwhile may be among what was lost.
   */
  private resync(connections: readonly Connection[]): void {
    for (const conn of connections) {
      conn.delivery.resync();
      this.deps.auth.requireActiveSession(conn.sessionId, conn.userId).catch((err: unknown) => {
        if (isAppError(err) && err.code !== 'service_unavailable') conn.close('sessionRevoked');
      });
    }
  }

  private refuse(socket: Duplex, refusal: HandshakeRefusal): void {
    this.deps.telemetry.handshake(refusal.status);
    writeRefusal(socket, refusal);
  }

  get connectionCount(): number {
    return this.registry.count;
  }

  /** Closes every socket with 1001 so clients reconnect elsewhere and resume. */
  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    clearInterval(this.leaseRenewal);
    clearInterval(this.expirySweep);
    this.stopRevocations();
    this.streams.endAll('shuttingDown');
    const closing = this.registry.all().map(
      (c) =>
        new Promise<void>((resolve) => {
          c.socket.once('close', () => resolve());
          c.close('shuttingDown');
        }),
    );
    await Promise.race([Promise.all(closing), new Promise((r) => setTimeout(r, 2_000).unref())]);
    for (const c of this.registry.all()) c.socket.terminate();
    this.wss.close();
  }

  private accept(ws: WebSocket, transport: Duplex, principal: Principal, lease: Lease, through: () => void): void {
    const id = lease.connectionId;
    const { runs, history, auth, now, telemetry } = this.deps;
    const readLog = async (runId: string, afterSeq: number) =>
      (await history.eventsAfter(principal.userId, runId, afterSeq)).events;
    const conn = new Connection(id, ws, transport, principal, this.deps.logger, this.options, telemetry, readLog);
    const subscribed = this.registry.add(conn);
    telemetry.handshake(101);
    conn.bindExpiry(now(), this.tokenWarnAheadMs);
    // activeRuns is read once the subscription is live: a run that starts later arrives live from agent_started,
    // one that started earlier is listed; none falls between. Until then the connection holds what it produces.
    const established = (async () => {
      await withTimeout(subscribed, SUBSCRIBE_TIMEOUT_MS, 'not ready');
      // A logout that landed between the upgrade's credential check and this connection joining the registry
      // announced itself to no one here: look at the session again now that later announcements reach us.
      try {
        await auth.requireActiveSession(principal.sessionId, principal.userId);
      } catch (err) {
        if (isAppError(err) && err.code !== 'service_unavailable') return conn.close('sessionRevoked');
        throw err;
      }
      conn.establish({
        type: 'connection_established',
        connectionId: id,
        userId: principal.userId,
        serverTime: new Date(now()).toISOString(),
        heartbeatIntervalMs: this.options.heartbeatIntervalMs,
        activeRuns: await runs.activeRuns(principal.userId),
      });
    })()
      .catch((err: unknown) => {
        conn.log.warn({ err }, 'connection could not be established');
        conn.close('internalError');
      })
      .finally(() => {
        transport.uncork();
        through();
      });
    conn.debug({}, 'connection opened');

    // Messages of one connection are handled one at a time, in order, each after the rate limit admits it.
    let chain: Promise<void> = established;
    const messageDeps = { runs, history, auth, now, tokenWarnAheadMs: this.tokenWarnAheadMs };
    ws.on('message', (data, isBinary) => {
      // Frames still arriving after we closed (a flood in flight) cost nothing more than ws's parsing.
      if (!conn.isOpen) return;
      if (isBinary) return conn.close('binaryFrame');
      const admitted = this.deps.messageLimiter.consume(id).then(
        () => true,
        () => false,
      );
      chain = chain
        .then(async () => {
          if (!(await admitted)) {
            this.deps.telemetry.rateLimited('messages');
            return conn.close('rateLimited');
          }
          if (!conn.isOpen) return;
          const msg = parseClientMessage(conn, textOf(data));
          if (msg !== undefined) await handleClientMessage(conn, msg, messageDeps);
        })
        .catch((err: unknown) => {
          conn.log.error({ err }, 'message handling failed');
          conn.send({ type: 'error', code: 'internal_error', message: 'Internal error.', replyTo: null });
        });
    });
    ws.on('pong', () => {
      conn.missedPongs = 0;
    });
    ws.on('error', (err) => conn.debug({ err }, 'socket error'));
    ws.on('close', (code) => {
      conn.clearTimers();
      this.registry.remove(conn);
      this.releaseLease(lease);
      void this.deps.messageLimiter.reset(id);
      conn.debug({ code }, 'connection closed');
    });
  }

  private beat(): void {
    for (const conn of this.registry.all()) {
      if (conn.missedPongs >= 2) {
        conn.log.info('peer missed two heartbeats: terminating');
        conn.socket.terminate();
        continue;
      }
      conn.missedPongs += 1;
      conn.socket.ping();
    }
  }
}

function destroySocket(this: Duplex): void {
  this.destroy();
}
