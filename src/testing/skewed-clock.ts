/**
 * A clock that runs `skewMs` ahead of the real one (behind when negative), for a server's `now` option: tokens
 * issued and checked by that server see the shifted time while real timers, sockets and clients keep real time.
 */
export class SkewedClock {
  skewMs = 0;

  /** Pass as `now`: bound, so it can be handed around. */
  readonly now = (): number => Date.now() + this.skewMs;

  /** Shifts the clock so that it reads `epochMs` now. */
  setTo(epochMs: number): void {
    this.skewMs = epochMs - Date.now();
  }
}
