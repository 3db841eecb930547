/**
 * Lets handshakes through in waves. A handshake that finds none in progress goes at once; one that arrives while
 * others are in progress waits for the next wave, which leaves `windowMs` after its first member arrived. The
 * handshakes of a wave reach each step in the same turn of the event loop: with Redis and PostgreSQL, where the
 * steps are round trips (the handshake limit, the connection slot, the session, the subscription, activeRuns), each
 * step costs one pipelined Redis write and one batched statement for the whole wave instead of one each; in one
 * process the wave's work is done in fewer turns. The CPU per handshake falls as the rate rises, like a group commit,
 * for a wait of `windowMs` at most.
 */
export class HandshakeWaves {
  private inProgress = 0;
  private waiting: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly windowMs: number) {}

  /** Resolves when this handshake may go, with the function to call once it is through (idempotent). */
  async enter(): Promise<() => void> {
    if (this.inProgress === 0 && this.waiting.length === 0) this.inProgress += 1;
    else {
      await new Promise<void>((resolve) => {
        this.waiting.push(resolve);
        this.timer ??= setTimeout(this.release, this.windowMs);
      });
    }
    let through = false;
    return () => {
      if (through) return;
      through = true;
      this.inProgress -= 1;
    };
  }

  /** Handshakes in progress, and waiting for the next wave. */
  get size(): { readonly inProgress: number; readonly waiting: number } {
    return { inProgress: this.inProgress, waiting: this.waiting.length };
  }

  private readonly release = (): void => {
    this.timer = undefined;
    const wave = this.waiting;
    this.waiting = [];
    this.inProgress += wave.length;
    for (const go of wave) go();
  };
}
