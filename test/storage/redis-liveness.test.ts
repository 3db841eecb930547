import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, expect, it } from 'vitest';
import { RedisConnection, RedisInstanceLiveness } from '../../src/storage/index.js';
import { describeWithServices } from '../../src/testing/describe-with-services.js';
import { connectTestRedis, TEST_REDIS_URL, testRedisPrefix } from '../../src/testing/services.js';
import { startTcpProxy, type TcpProxy } from '../e2e/helpers/tcp-proxy.js';

const LEASE_MS = 9_000; // renewed on a timer every 3 s

describeWithServices(['redis'], 'RedisInstanceLiveness after Redis comes back empty', () => {
  const closing: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const close of closing.reverse()) await close();
  });

  it('puts its key back as soon as its link to Redis is back, not at the next timed renewal', async () => {
    const target = new URL(TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');
    const proxy: TcpProxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || '6379') });
    closing.push(() => proxy.close());
    const prefix = testRedisPrefix();
    const viaProxy = await RedisConnection.connect({ url: proxy.url(TEST_REDIS_URL ?? ''), keyPrefix: prefix });
    closing.push(() => viaProxy.close());
    const direct = await connectTestRedis(prefix);
    closing.push(() => direct.close());
    const liveness = new RedisInstanceLiveness(viaProxy, randomUUID(), LEASE_MS, () => {});
    await liveness.start();
    closing.push(() => liveness.stop());
    const key = direct.key('instance', liveness.instanceId);
    const renewedAt = Date.now();
    expect(await direct.commands.exists(key)).toBe(1);

    // Redis goes away and comes back empty.
    await proxy.cut();
    await direct.commands.del(key);
    await delay(500);
    await proxy.restore();
    const deadline = renewedAt + LEASE_MS / 3 - 300; // before the timer's first renewal
    while ((await direct.commands.exists(key)) === 0 && Date.now() < deadline) await delay(50);
    expect(await direct.commands.exists(key), 'the key is back before the timed renewal').toBe(1);
  });
});
