import type { Logger } from 'pino';
import { AppError } from '../errors/index.js';
import type { Accepted, MessageIdStore } from './ports.js';

/** How long a repeated message id (or client-minted run id) answers with its first ack and starts nothing. */
export const IDEMPOTENCY_WINDOW_MS = 15 * 60_000;
/** How long a re-send waits for the instance that is accepting the same message id. */
const PENDING_CLAIM_WAIT_MS = 5_000;
/** A claim not settled by then (its instance died while accepting) lapses, so the id is not blocked for the window. */
const PENDING_CLAIM_TTL_MS = 30_000;
const PENDING_CLAIM_POLL_MS = 25;

interface IdempotencyKey {
  readonly userId: string;
  /** The client's message id. */
  readonly clientId?: string | undefined;
  /** A client-minted run id (AG-UI): its own idempotency key, apart from message ids. */
  readonly runId?: string | undefined;
}

export interface SubmissionsDeps {
  readonly messageIds: MessageIdStore;
  readonly logger: Logger;
  readonly now: () => number;
}

/**
 * The idempotency window: a message whose id was accepted in the last IDEMPOTENCY_WINDOW_MS, on any instance,
 * answers with the first ack and starts nothing. This instance shares the first attempt's promise (no store round
 * trip, and its ack even while it is pending); other instances see it through the MessageIdStore.
 */
export class Submissions {
  private readonly accepted = new Map<string, { ack: Promise<Accepted>; expiresAt: number }>();

  constructor(private readonly deps: SubmissionsDeps) {}

  /**
   * Runs `accept` once per key in the window and answers every repeat with its ack. `onAccepted` is called once
   * per call, with the ack, before the returned promise settles. Without an id, `accept` runs every time.
   */
  once(
    key: IdempotencyKey,
    accept: (onAccepted: (ack: Accepted) => void) => Promise<Accepted>,
    onAccepted: (ack: Accepted) => void,
  ): Promise<Accepted> {
    // A client-minted run id cannot pose as a message id, nor the other way round.
    const id =
      key.runId !== undefined
        ? `run\u0000${key.runId}`
        : key.clientId !== undefined
          ? `message\u0000${key.clientId}`
          : undefined;
    if (id === undefined) return accept(onAccepted);
    const scoped = `${key.userId}\u0000${id}`;
    const nowMs = this.deps.now();
    const previous = this.accepted.get(scoped);
    if (previous !== undefined && previous.expiresAt > nowMs) {
      return previous.ack.then((ack) => (onAccepted(ack), ack));
    }
    this.sweep(nowMs);
    const ack = this.claimAndAccept(scoped, accept, onAccepted);
    // Deleted first: set() on a key still present would keep its old place, and the sweep relies on expiry order.
    this.accepted.delete(scoped);
    this.accepted.set(scoped, { ack, expiresAt: nowMs + IDEMPOTENCY_WINDOW_MS });
    ack.catch(() => this.accepted.delete(scoped));
    return ack;
  }

  /** Accepts a message whose id no instance has accepted yet in the window; otherwise answers the stored ack. */
  private async claimAndAccept(
    key: string,
    accept: (onAccepted: (ack: Accepted) => void) => Promise<Accepted>,
    onAccepted: (ack: Accepted) => void,
  ): Promise<Accepted> {
    const { messageIds, logger, now } = this.deps;
    const giveUpAt = now() + PENDING_CLAIM_WAIT_MS;
    for (;;) {
      const claim = await messageIds.claim(key, PENDING_CLAIM_TTL_MS).catch((err: unknown) => {
        throw new AppError(
          'service_unavailable',
          'Message ids cannot be checked right now: send again shortly (with the same id).',
          { cause: err },
        );
      });
      if (claim.kind === 'accepted') {
        onAccepted(claim.ack);
        return claim.ack;
      }
      if (claim.kind === 'claimed') {
        let ack: Accepted;
        try {
          ack = await accept(onAccepted);
        } catch (err) {
          await messageIds.release(key).catch(() => {});
          throw err;
        }
        await messageIds
          .settle(key, ack, IDEMPOTENCY_WINDOW_MS)
          .catch((err: unknown) => logger.warn({ err }, 'accepted message id not recorded'));
        return ack;
      }
      if (now() > giveUpAt) {
        throw new AppError(
          'service_unavailable',
          'This message is still being accepted: send again shortly (with the same id).',
        );
      }
      await new Promise((r) => setTimeout(r, PENDING_CLAIM_POLL_MS));
    }
  }

  /**
   * Drops the ids whose window has passed. Every id gets the same window, so the Map is in expiry order and the
   * sweep stops at the first live one: its cost is the expired ids, not all of them. (It used to walk the whole
   * Map on every message once it held 1,024: under load, the top allocator and a cost that grew with traffic.)
   */
  private sweep(nowMs: number): void {
    for (const [key, entry] of this.accepted) {
      if (entry.expiresAt > nowMs) return;
      this.accepted.delete(key);
    }
  }
}
