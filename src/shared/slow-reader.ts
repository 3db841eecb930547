/** How long unsent data may stay above the bound before the reader is cut off. */
const SLOW_READER_GRACE_MS = 2_000;
/** Above max(16 × the bound, this), a reader is cut off at once: no grace for a backlog that large. */
const HARD_BACKLOG_FLOOR = 64 * 1024 * 1024;

/**
 * The slow-reader policy of every stream to a client (WebSocket and SSE alike): a reader that falls behind is cut off
 * rather than buffered without bound; its runs go on and it can resume. Behind means: unsent data still above the
 * bound SLOW_READER_GRACE_MS after it first went above (a big message or a fast replay to a reader that keeps
 * reading drains well within that), or above the hard cap at any moment.
 */
export class SlowReaderWatch {
  private check: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly backlog: () => number,
    private readonly bound: number,
    private readonly cutOff: (backlog: number) => void,
  ) {}

  /** Looks at the backlog; call after every write. */
  wrote(): void {
    if (this.stopped) return;
    const backlog = this.backlog();
    if (backlog <= this.bound) return;
    if (backlog > Math.max(this.bound * 16, HARD_BACKLOG_FLOOR)) return this.cutOff(backlog);
    this.check ??= setTimeout(() => {
      this.check = undefined;
      const later = this.backlog();
      if (later > this.bound) this.cutOff(later);
    }, SLOW_READER_GRACE_MS);
    this.check.unref();
  }

  /** The stream is closing: no check is armed from now on. */
  stop(): void {
    clearTimeout(this.check);
    this.stopped = true;
  }
}
