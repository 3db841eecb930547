import type { ServerMessage } from '../../protocol/index.js';
import type { Subscription, UserEventBus, UserEventListener } from '../../runs/index.js';
import { MemoryUserEventBus } from '../memory/user-event-bus.js';
import type { RedisConnection } from './connection.js';

interface Envelope {
  /** The publishing instance: it has delivered to its own listeners already. */
  readonly from: string;
  readonly message: ServerMessage;
}

/**
 * Local listeners get a message synchronously, as with one instance; other instances get it through the user's
 * Redis channel, which keeps one publisher's order. A listener hears each message once: its own instance's
 * messages coming back from Redis are skipped.
 */
export class RedisUserEventBus implements UserEventBus {
  private readonly local = new MemoryUserEventBus();
  private readonly stopResync: () => void;

  constructor(
    private readonly redis: RedisConnection,
    private readonly instanceId: string,
    private readonly onPublishError: (err: unknown) => void,
  ) {
    this.stopResync = redis.pubsub.onResync(() => {
      for (const listener of this.local.allListeners()) listener.resync();
    });
  }

  publish(userId: string, message: ServerMessage): void {
    this.local.publish(userId, message);
    const envelope: Envelope = { from: this.instanceId, message };
    // Lost while Redis is down; the other instances' listeners re-read the EventLog when it is back (resync).
    this.redis.commands.publish(this.channelOf(userId), JSON.stringify(envelope)).catch(this.onPublishError);
  }

  subscribe(userId: string, listener: UserEventListener): Subscription {
    const local = this.local.subscribe(userId, listener);
    const remote = this.redis.pubsub.subscribe(this.channelOf(userId), (raw) => {
      // Written by publish() above on another instance of this deployment.
      const envelope = JSON.parse(raw) as Envelope;
      if (envelope.from !== this.instanceId) listener.message(envelope.message);
    });
    return {
      ready: remote.ready,
      unsubscribe: () => {
        local.unsubscribe();
        remote.unsubscribe();
      },
    };
  }

  close(): void {
    this.stopResync();
  }

  private channelOf(userId: string): string {
    return this.redis.key('user', userId);
  }
}
