import type { Redis } from 'ioredis';

type Handler = (message: string) => void;

/**
 * Channel subscriptions over one subscriber connection, shared by reference count. After the connection drops and
 * comes back it subscribes to every channel again and only then tells `onResync` listeners, so what they re-read
 * cannot miss a message published after the re-subscription.
 */
export class RedisPubSub {
  private readonly handlers = new Map<string, { set: Set<Handler>; subscribed: Promise<void> }>();
  private readonly resyncListeners = new Set<() => void>();
  private lost = false;

  constructor(private readonly subscriber: Redis) {
    subscriber.on('message', (channel: string, message: string) => {
      for (const handler of this.handlers.get(channel)?.set ?? []) handler(message);
    });
    subscriber.on('close', () => {
      this.lost = true;
    });
    subscriber.on('ready', () => {
      if (!this.lost) return;
      this.lost = false;
      const channels = [...this.handlers.keys()];
      const resubscribed = channels.length > 0 ? this.subscriber.subscribe(...channels) : Promise.resolve();
      resubscribed.then(
        () => {
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
      subscribed.catch(() => {});
      entry = { set: new Set(), subscribed };
      this.handlers.set(channel, entry);
    }
    const { set } = entry;
    set.add(handler);
    return {
      ready: entry.subscribed,
      unsubscribe: () => {
        if (!set.delete(handler) || set.size > 0 || this.handlers.get(channel)?.set !== set) return;
        this.handlers.delete(channel);
        this.subscriber.unsubscribe(channel).catch(() => {});
      },
    };
  }

  /** Returns an unsubscribe function. */
  onResync(listener: () => void): () => void {
    this.resyncListeners.add(listener);
    return () => this.resyncListeners.delete(listener);
  }

  async close(): Promise<void> {
    this.handlers.clear();
    await this.subscriber.quit().catch(() => {});
    this.subscriber.disconnect();
  }
}
