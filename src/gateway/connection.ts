import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type WebSocket from 'ws';
import type { Principal } from '../auth/index.js';
import { CLOSE, type CloseKind } from '../errors/index.js';
import type { RunEvent, ServerMessage } from '../protocol/index.js';
import type { Telemetry } from '../telemetry/index.js';
import { RunDelivery } from '../runs/index.js';

export const SLOW_CONSUMER_GRACE_MS = 2_000;
const HARD_BACKLOG_FLOOR = 64 * 1024 * 1024;

/**
 * One authenticated socket. Identity is fixed at the upgrade: `userId` never changes, and `authenticate` may
 * only swap in a newer token of the same user.
 */
export class Connection {
  readonly userId: string;
  readonly delivery: RunDelivery;
  /** Missed heartbeats in a row. */
  missedPongs = 0;
  private closing = false;
  private backlogCheck: NodeJS.Timeout | undefined;
  private expiryTimers: NodeJS.Timeout[] = [];
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
    readonly log: Logger,
    private readonly limits: { readonly maxBufferedBytes: number },
    private readonly telemetry: Telemetry,
    readLog: (runId: string, afterSeq: number) => Promise<readonly RunEvent[]>,
  ) {
    this.userId = principal.userId;
    this.delivery = new RunDelivery(
      (event) => this.send(event),
      readLog,
      (err, runId) => this.log.warn({ err, runId }, 'could not re-read run events to fill a gap'),
    );
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
      process.nextTick(this.uncork);
    }
    this.socket.send(JSON.stringify(message));
  }

  /**
   * Runs after the synchronous stretch that sent messages (a run's stored burst is published in one loop), so a
   * burst of events costs one write instead of one or two per event.
   */
  private readonly uncork = (): void => {
    const sent = this.corkedMessages;
    this.corkedMessages = 0;
    this.transport.uncork();
    this.telemetry.messagesSent(sent);
    this.watchBacklog();
  };

  /**
   * A reader that falls behind is cut off rather than buffered without bound; its runs go on and it can resume.
   * Behind means: unsent data still above the bound SLOW_CONSUMER_GRACE_MS after it first went above (a big
   * message or a fast replay to a reader that keeps reading drains well within that), or above the hard cap at
   * any moment.
   */
  private watchBacklog(): void {
    const backlog = this.socket.bufferedAmount;
    const bound = this.limits.maxBufferedBytes;
    if (backlog <= bound) return;
    if (backlog > Math.max(bound * 16, HARD_BACKLOG_FLOOR)) return this.cutOffSlowReader(backlog);
    this.backlogCheck ??= setTimeout(() => {
      this.backlogCheck = undefined;
      if (this.socket.bufferedAmount > bound) this.cutOffSlowReader(this.socket.bufferedAmount);
    }, SLOW_CONSUMER_GRACE_MS);
    this.backlogCheck.unref();
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

  /** Warns the client ahead of its token's expiry and closes 4001 at the expiry itself. */
  bindExpiry(nowMs: number, warnAheadMs: number): void {
    for (const t of this.expiryTimers) clearTimeout(t);
    const expiresAtMs = this.principal.expiresAt * 1000;
    const untilExpiry = Math.max(0, expiresAtMs - nowMs);
    this.expiryTimers = [
      setTimeout(() => this.send({ type: 'token_expiring', expiresAt: new Date(expiresAtMs).toISOString() }), Math.max(0, untilExpiry - warnAheadMs)),
      setTimeout(() => this.close('tokenExpired'), untilExpiry),
    ];
    for (const t of this.expiryTimers) t.unref();
  }

  /** Stops every timer of this connection (it is closing). */
  clearTimers(): void {
    clearTimeout(this.backlogCheck);
    for (const t of this.expiryTimers) clearTimeout(t);
    this.expiryTimers = [];
  }
}
