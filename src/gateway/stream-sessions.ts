import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AuthService, Principal } from '../auth/index.js';
import { AppError, isAppError } from '../errors/index.js';
import type { CloseKind } from '../protocol/index.js';
import type { Telemetry } from '../telemetry/index.js';
import type { ConnectionLeases, Lease } from './ports.js';

/** Ends a stream and says why: the close table's kind (`sessionRevoked`, `tokenExpired`, `shuttingDown`). */
export type EndStream = (why: CloseKind) => void;

/** A stream's hold on its slot. */
export interface StreamSlot {
  /** Gives the slot back; call when the stream ends, however it ends (idempotent). */
  release(): void;
  /** Looks at the stream's session again (its bus link broke and came back: a revocation may have been lost). */
  recheckSession(): void;
}

interface HeldStream {
  readonly lease: Lease;
  readonly principal: Principal;
  readonly end: EndStream;
}

export interface StreamSessionsDeps {
  readonly leases: ConnectionLeases;
  readonly auth: AuthService;
  readonly maxPerUser: number;
  readonly telemetry: Telemetry;
  readonly logger: Logger;
}

/**
 * The client streams that are not WebSockets (SSE: `GET /runs/:id/stream`, `POST /agui`), held to the same session
 * rules as sockets: each takes one of the user's MAX_CONNECTIONS_PER_USER slots (shared with sockets, counted on
 * every instance), and it ends when its session is revoked (logout, refresh-token reuse, account disabled, on any
 * instance) or its access token expires. The gateway drives it from the same revocation listener, expiry sweep and
 * lease renewal as its sockets.
 */
export class StreamSessions {
  private readonly held = new Map<string, HeldStream>();

  constructor(private readonly deps: StreamSessionsDeps) {}

  /**
   * Takes a slot for a stream of `principal`: 429 `too_many_connections` when the user has none left, 503 when the
   * slots cannot be counted.
   */
  async admit(principal: Principal, end: EndStream): Promise<StreamSlot> {
    const lease = await this.takeSlot(principal.userId);
    const stream: HeldStream = { lease, principal, end };
    this.held.set(lease.connectionId, stream);
    return {
      release: () => void this.release(stream),
      recheckSession: () => this.recheck(stream),
    };
  }

  /**
   * Takes one of the user's connection slots, for a socket or a stream: 429 `too_many_connections` when none is
   * left, 503 when the slots cannot be counted (both with Retry-After: 5).
   */
  async takeSlot(userId: string): Promise<Lease> {
    const lease: Lease = { userId, connectionId: randomUUID() };
    const { leases, maxPerUser } = this.deps;
    let acquired: boolean;
    try {
      acquired = await leases.acquire(lease, maxPerUser);
    } catch (err) {
      this.deps.logger.warn({ err }, 'connection slot store unavailable');
      throw new AppError('service_unavailable', 'Connection slots cannot be counted right now: try again shortly.', {
        cause: err,
        retryAfterSeconds: 5,
      });
    }
    if (acquired) return lease;
    this.deps.telemetry.rateLimited('connections');
    throw new AppError('too_many_connections', `At most ${maxPerUser} connections per user.`, {
      retryAfterSeconds: 5,
    });
  }

  /** The leases of the streams open here, for renewal. */
  leases(): Lease[] {
    return [...this.held.values()].map((s) => s.lease);
  }

  closeSession(sessionId: string): number {
    return this.endWhere((s) => s.principal.sessionId === sessionId, 'sessionRevoked');
  }

  /** Ends the streams whose access token has expired (the gateway's one-second sweep). */
  checkExpiry(nowMs: number): void {
    this.endWhere((s) => nowMs >= s.principal.expiresAt * 1000, 'tokenExpired');
  }

  endAll(why: CloseKind): void {
    this.endWhere(() => true, why);
  }

  private endWhere(match: (stream: HeldStream) => boolean, why: CloseKind): number {
    let ended = 0;
    for (const stream of [...this.held.values()]) {
      if (!match(stream)) continue;
      this.endOne(stream, why);
      ended += 1;
    }
    return ended;
  }

  private endOne(stream: HeldStream, why: CloseKind): void {
    if (this.release(stream)) stream.end(why);
  }

  /** False when the stream had already been released. */
  private release(stream: HeldStream): boolean {
    if (!this.held.delete(stream.lease.connectionId)) return false;
    this.deps.leases
      .release(stream.lease)
      .catch((err: unknown) => this.deps.logger.warn({ err }, 'stream slot not released (it expires on its own)'));
    return true;
  }

  private recheck(stream: HeldStream): void {
    const { sessionId, userId } = stream.principal;
    this.deps.auth.requireActiveSession(sessionId, userId).catch((err: unknown) => {
      if (isAppError(err) && err.code !== 'service_unavailable') this.endOne(stream, 'sessionRevoked');
    });
  }
}
