import type { ServerMessage } from '../../protocol/index.js';
import type { Subscription, UserEventBus, UserEventListener } from '../../runs/index.js';
import { MemoryUserEventBus } from '../memory/user-event-bus.js';
import type { RedisConnection } from './connection.js';

interface Envelope {
  /** The publishing instance: it has delivered to its own listeners already. */
  readonly from: string;
  /** The user's messages of one event-loop turn, in order. */
  readonly messages?: readonly ServerMessage[];
  /** One message (what instances of earlier versions publish). */
  readonly message?: ServerMessage;
}

/**
 * Local listeners get a message synchronously, as with one instance; other instances get it through the user's
 * Redis channel, which keeps one publisher's order. What one user is sent in one turn of the event loop goes out as
 * one PUBLISH (a run's burst of events is one command, not one each). A listener hears each message once: its own
 * instance's messages coming back from Redis are skipped.
 */
export class RedisUserEventBus implements UserEventBus {
  private readonly local = new MemoryUserEventBus();
  /** Messages for other instances, by user, until the end of this turn. */
  private outgoing = new Map<string, ServerMessage[]>();
  private flushScheduled = false;
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
    const queued = this.outgoing.get(userId);
    if (queued !== undefined) queued.push(message);
    else this.outgoing.set(userId, [message]);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.flush);
  }

  private readonly flush = (): void => {
    const outgoing = this.outgoing;
    this.outgoing = new Map();
    this.flushScheduled = false;
    for (const [userId, messages] of outgoing) {
      // One message goes in the single form that instances of earlier versions read too (a rolling upgrade).
      const envelope: Envelope =
        messages.length === 1 ? { from: this.instanceId, message: messages[0]! } : { from: this.instanceId, messages };
      // Lost while Redis is down; the other instances' listeners re-read the EventLog when it is back (resync).
      this.redis.commands.publish(this.channelOf(userId), JSON.stringify(envelope)).catch(this.onPublishError);
    }
  };

  subscribe(userId: string, listener: UserEventListener): Subscription {
    const local = this.local.subscribe(userId, listener);
    const remote = this.redis.pubsub.subscribe(this.channelOf(userId), (raw) => {
      // Written by publish() above on another instance of this deployment.
      const envelope = JSON.parse(raw) as Envelope;
      if (envelope.from === this.instanceId) return;
      if (envelope.message !== undefined) listener.message(envelope.message);
      for (const message of envelope.messages ?? []) listener.message(message);
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
