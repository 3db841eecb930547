import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, expect, it } from 'vitest';
import { RedisPubSub } from '../../src/storage/redis/pubsub.js';
import { describeWithServices } from '../../src/testing/describe-with-services.js';
import { TEST_REDIS_URL, testRedisPrefix } from '../../src/testing/services.js';
import { startTcpProxy } from '../e2e/helpers/tcp-proxy.js';

describeWithServices(['redis'], 'RedisPubSub: linger and the link', () => {
  const closing: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const close of closing.reverse()) await close();
  });
  const url = TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const numsub = async (admin: Redis, channel: string): Promise<number> =>
    Number(((await admin.pubsub('NUMSUB', channel)) as [string, number])[1]);

  it('a channel nobody listens to stays subscribed for lingerMs (a returning listener finds it live), then goes', async () => {
    const admin = new Redis(url);
    closing.push(() => admin.quit());
    const pubsub = new RedisPubSub(new Redis(url), 300);
    closing.push(() => pubsub.close());
    const channel = `${testRedisPrefix()}linger`;

    const first = pubsub.subscribe(channel, () => {});
    await first.ready;
    first.unsubscribe();
    expect(await numsub(admin, channel)).toBe(1);

    const heard: string[] = [];
    const again = pubsub.subscribe(channel, (m) => heard.push(m));
    await again.ready;
    await admin.publish(channel, 'back');
    await expect.poll(() => heard).toEqual(['back']);
    again.unsubscribe();
    await delay(150);
    expect(await numsub(admin, channel), 'still lingering').toBe(1);
    await expect.poll(() => numsub(admin, channel), { timeout: 2_000 }).toBe(0);
  });

  it('reads as down from the loss of its link until every channel is subscribed again, and says so both ways', async () => {
    const target = new URL(url);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || '6379') });
    closing.push(() => proxy.close());
    const subscriber = new Redis(proxy.url(url), { retryStrategy: () => 100, maxRetriesPerRequest: null });
    subscriber.on('error', () => {});
    const pubsub = new RedisPubSub(subscriber);
    closing.push(() => pubsub.close());
    const changes: boolean[] = [];
    pubsub.onChange((up) => changes.push(up));
    const channel = `${testRedisPrefix()}link`;
    const heard: string[] = [];
    await pubsub.subscribe(channel, (m) => heard.push(m)).ready;
    expect(pubsub.up).toBe(true);

    await proxy.cut();
    await expect.poll(() => pubsub.up, { timeout: 5_000 }).toBe(false);
    expect(changes).toEqual([false]);
    await proxy.restore();
    await expect.poll(() => pubsub.up, { timeout: 10_000 }).toBe(true);
    expect(changes).toEqual([false, true]);

    const admin = new Redis(url);
    closing.push(() => admin.quit());
    await admin.publish(channel, 'after');
    await expect.poll(() => heard).toEqual(['after']);
  });
});
