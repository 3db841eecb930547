import type { BusLink, RevocationBus } from './ports.js';

export interface SessionCacheOptions {
  readonly revocations: RevocationBus;
  /** The revocation bus's link: while it is down, announcements are lost and nothing is answered from memory. */
  readonly link: BusLink;
  /** A session found active is answered from memory for this long at most (a bound for the unforeseen). */
  readonly maxAgeMs: number;
  /** Sessions remembered at most; the oldest is forgotten first. */
  readonly maxEntries: number;
  readonly now: () => number;
}

/**
 * Which sessions were lately found active, so a handshake or request of a known session needs no store read. Every
 * revocation is announced on the bus, which evicts the session here. Each announcement (and each loss or return of
 * the bus link) also advances an epoch: a store read that began before it may predate the revocation, so its answer
 * is used once but not remembered. A check that raced a revocation thus answers "active" at most until the
 * announcement arrives, and the announcement closes whatever that check let in.
 * Only where something tells this process of every revocation it did not make (the Redis link; on SQLite, commits
 * by other processes): without that, read the store every time.
 */
export class SessionCache {
  private readonly active = new Map<string, { readonly userId: string; readonly foundAt: number }>();
  private epoch = 0;
  private readonly stop: Array<() => void>;

  constructor(private readonly options: SessionCacheOptions) {
    this.stop = [
      options.revocations.subscribe((sessionId) => {
        this.active.delete(sessionId);
        this.epoch += 1;
      }),
      options.link.onChange(() => {
        this.active.clear();
        this.epoch += 1;
      }),
    ];
  }

  /** This process revoked the session: forget it at once, before its announcement comes back through the bus. */
  forget(sessionId: string): void {
    this.active.delete(sessionId);
    this.epoch += 1;
  }

  /** True when the session is active: from memory when it was found so lately and nothing revoked it since. */
  async isActive(sessionId: string, userId: string, read: () => Promise<boolean>): Promise<boolean> {
    const { link, maxAgeMs, maxEntries, now } = this.options;
    // `link.up` first: reading it may tell of changes that make what is remembered stale (and forget it).
    const known = link.up ? this.active.get(sessionId) : undefined;
    if (known !== undefined && known.userId === userId && now() - known.foundAt < maxAgeMs) return true;
    const epoch = this.epoch;
    const active = await read();
    if (!active) this.active.delete(sessionId);
    else if (link.up && epoch === this.epoch) {
      this.active.delete(sessionId);
      if (this.active.size >= maxEntries) this.active.delete(this.active.keys().next().value as string);
      this.active.set(sessionId, { userId, foundAt: now() });
    }
    return active;
  }

  close(): void {
    for (const stop of this.stop) stop();
    this.active.clear();
  }
}
