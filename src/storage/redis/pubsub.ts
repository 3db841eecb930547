import type { Redis } from 'ioredis';
import type { BusLink } from '../../auth/index.js';

type Handler = (message: string) => void;

/**
 * Channel subscriptions over one subscriber connection, shared by reference count; a channel nobody listens to any
 * more stays subscribed for `lingerMs`, so a client that comes back finds it live. After the connection drops and
 * comes back it subscribes to every channel again and only then tells `onResync` listeners, so what they re-read
 * cannot miss a message published after the re-subscription.
 */
export class RedisPubSub implements BusLink {
  private readonly handlers = new Map<
    string,
    { readonly set: Set<Handler>; readonly subscribed: Promise<void>; linger?: NodeJS.Timeout | undefined }
  >();
  private readonly resyncListeners = new Set<() => void>();
  private readonly linkListeners = new Set<(up: boolean) => void>();
  private lost = false;
  /** From the link's loss until every channel is subscribed again. */
  private down = false;

  /** `lingerMs`: how long a channel nobody listens to any more stays subscribed. */
  constructor(
    private readonly subscriber: Redis,
    private readonly lingerMs = 30_000,
  ) {
    subscriber.on('message', (channel: string, message: string) => {
      for (const handler of this.handlers.get(channel)?.set ?? []) handler(message);
    });
    subscriber.on('close', () => {
      if (this.lost) return;
      this.lost = true;
      this.down = true;
      for (const listener of [...this.linkListeners]) listener(false);
    });
    subscriber.on('ready', () => {
      if (!this.lost) return;
      this.lost = false;
      const channels = [...this.handlers.keys()];
      const resubscribed = channels.length > 0 ? this.subscriber.subscribe(...channels) : Promise.resolve();
      resubscribed.then(
        () => {
          this.down = false;
          for (const listener of [...this.linkListeners]) listener(true);
          for (const listener of [...this.resyncListeners]) listener();
        },
        // The link dropped again: the next 'ready' retries.
        () => {},
      );
    });
  }

  /** `ready` resolves once Redis has confirmed the subscription. */
  subscribe(channel: string, handler: Handler): { ready: Promise<void>; unsubscribe: () => void } {
    let entry = this.handlers.get(channel);
    if (entry === undefined) {
      const subscribed = this.subscriber.subscribe(channel).then(() => undefined);
      const created = { set: new Set<Handler>(), subscribed };
      // A refused SUBSCRIBE must not be handed to later subscribers (a lingering entry would keep it): drop it.
      subscribed.catch(() => {
        if (this.handlers.get(channel) === created) this.handlers.delete(channel);
      });
      entry = created;
      this.handlers.set(channel, entry);
    }
    const current = entry;
    clearTimeout(current.linger);
    current.set.add(handler);
    return {
      ready: current.subscribed,
      unsubscribe: () => {
        if (!current.set.delete(handler) || current.set.size > 0 || this.handlers.get(channel) !== current) return;
        // Kept a while: a client that reconnects (a reload, a new tab, another instance's failover) finds it live.
        clearTimeout(current.linger);
        current.linger = setTimeout(() => {
          if (current.set.size > 0 || this.handlers.get(channel) !== current) return;
          this.handlers.delete(channel);
          this.subscriber.unsubscribe(channel).catch(() => {});
        }, this.lingerMs);
        current.linger.unref();
      },
    };
  }

  /** Returns an unsubscribe function. */
  onResync(listener: () => void): () => void {
    this.resyncListeners.add(listener);
    return () => this.resyncListeners.delete(listener);
  }

  /** False from the link's loss until every channel is subscribed again: what was published meanwhile is lost. */
  get up(): boolean {
    return !this.down;
  }

  /** Told when the link goes down and when it is up again. Returns an unsubscribe function. */
  onChange(listener: (up: boolean) => void): () => void {
    this.linkListeners.add(listener);
    return () => this.linkListeners.delete(listener);
  }

  async close(): Promise<void> {
    for (const entry of this.handlers.values()) clearTimeout(entry.linger);
    this.handlers.clear();
    await this.subscriber.quit().catch(() => {});
    this.subscriber.disconnect();
  }
}
