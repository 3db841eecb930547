import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type WebSocket from 'ws';
import type { Principal } from '../auth/index.js';
import { CLOSE, encodeServerMessage, type CloseKind, type RunEvent, type ServerMessage } from '../protocol/index.js';
import type { Telemetry } from '../telemetry/index.js';
import { RunDelivery } from '../runs/index.js';
import { SlowReaderWatch } from '../shared/index.js';

/**
 * One authenticated socket. Identity is fixed at the upgrade: `userId` never changes, and `authenticate` may
 * only swap in a newer token of the same user.
 */
export class Connection {
  readonly userId: string;
  readonly delivery: RunDelivery;
  private childLog: Logger | undefined;
  /** Missed heartbeats in a row. */
  missedPongs = 0;
  private closing = false;
  private readonly slowReader: SlowReaderWatch;
  /** When the access token expires (epoch ms), and whether token_expiring went out for that token. */
  private expiresAtMs = 0;
  private expiryWarned = false;
  /** Messages produced before connection_established went out; it is always the first message. */
  private beforeEstablished: ServerMessage[] | undefined = [];
  /** Messages written since the transport was corked; they leave in one write when it is uncorked. */
  private corkedMessages = 0;

  constructor(
    readonly id: string,
    readonly socket: WebSocket,
    /** The TCP socket under `socket`: corked while a burst is written so the burst leaves in one syscall. */
    private readonly transport: Duplex,
    public principal: Principal,
    private readonly parentLog: Logger,
    limits: { readonly maxBufferedBytes: number },
    private readonly telemetry: Telemetry,
    readLog: (runId: string, afterSeq: number) => Promise<readonly RunEvent[]>,
  ) {
    this.userId = principal.userId;
    this.slowReader = new SlowReaderWatch(
      () => socket.bufferedAmount,
      limits.maxBufferedBytes,
      (backlog) => this.cutOffSlowReader(backlog),
    );
    this.delivery = new RunDelivery(
      (event) => this.send(event),
      readLog,
      (err, runId) => this.log.warn({ err, runId }, 'could not re-read run events to fill a gap'),
    );
  }

  /** This connection's logger, made on first use: most connections never log, and 10,000 idle ones add up. */
  get log(): Logger {
    return (this.childLog ??= this.parentLog.child({ connectionId: this.id, userId: this.userId }));
  }

  /** Debug lines cost nothing (not even the child logger) unless debug logging is on. */
  debug(fields: Record<string, unknown>, message: string): void {
    if (this.parentLog.isLevelEnabled('debug')) this.log.debug(fields, message);
  }

  /** Sends connection_established, then whatever was produced while it was being prepared. */
  establish(message: ServerMessage & { type: 'connection_established' }): void {
    const pending = this.beforeEstablished ?? [];
    this.beforeEstablished = undefined;
    this.send(message);
    for (const m of pending) this.send(m);
  }

  get sessionId(): string {
    return this.principal.sessionId;
  }

  get isOpen(): boolean {
    return !this.closing && this.socket.readyState === this.socket.OPEN;
  }

  send(message: ServerMessage): void {
    if (!this.isOpen) return;
    if (this.beforeEstablished !== undefined) return void this.beforeEstablished.push(message);
    if (this.corkedMessages++ === 0) {
      this.transport.cork();
      process.nextTick(uncork, this);
    }
    this.socket.send(encodeServerMessage(message));
  }

  /**
   * Runs after the synchronous stretch that sent messages (a run's stored burst is published in one loop), so a
   * burst of events costs one write instead of one or two per event.
   */
  flushCorked(): void {
    const sent = this.corkedMessages;
    this.corkedMessages = 0;
    this.transport.uncork();
    this.telemetry.messagesSent(sent);
    this.slowReader.wrote();
  }

  private cutOffSlowReader(backlog: number): void {
    this.log.warn({ bufferedBytes: backlog }, 'slow consumer: closing');
    this.close('slowConsumer');
  }

  /** Delivers a message from the user's bus: run events go through per-run ordering and de-duplication. */
  deliver(message: ServerMessage): void {
    if ('seq' in message) this.delivery.live(message);
    else this.send(message);
  }

  close(kind: CloseKind): void {
    if (this.closing) return;
    this.closing = true;
    this.telemetry.connectionClosed(kind);
    this.clearTimers();
    const { code, reason } = CLOSE[kind];
    this.socket.close(code, reason);
    // Stop reading from a flooder (what it already sent would be parsed for nothing while others wait), and end
    // its TCP connection soon after the close frame went out: it will not be reading our close handshake anyway.
    const flooder = kind === 'rateLimited';
    if (flooder) this.socket.pause();
    // A peer that never answers the close frame must not hold its slot.
    setTimeout(() => this.socket.terminate(), flooder ? 1_000 : 5_000).unref();
  }

  /** Starts watching the expiry of the connection's (new) access token. */
  bindExpiry(nowMs: number, warnAheadMs: number): void {
    this.expiresAtMs = this.principal.expiresAt * 1000;
    this.expiryWarned = false;
    this.checkExpiry(nowMs, warnAheadMs);
  }

  /**
   * Sends token_expiring once the expiry is within warnAheadMs and closes 4001 once it has passed. The gateway calls
   * this for every connection about once a second: one shared sweep instead of two timers per connection, which
   * matter at tens of thousands of idle connections.
   */
  checkExpiry(nowMs: number, warnAheadMs: number): void {
    if (nowMs >= this.expiresAtMs) return this.close('tokenExpired');
    if (this.expiryWarned || nowMs < this.expiresAtMs - warnAheadMs) return;
    this.expiryWarned = true;
    this.send({ type: 'token_expiring', expiresAt: new Date(this.expiresAtMs).toISOString() });
  }

  /** Stops every timer of this connection (it is closing). */
  clearTimers(): void {
    this.slowReader.stop();
  }
}

/** A module function rather than a per-connection closure: one less object per idle connection. */
function uncork(connection: Connection): void {
  connection.flushCorked();
}
