import { afterAll, beforeAll } from 'vitest';
import { startCluster, type Cluster, type Instance } from '../../../src/testing/cluster.js';
import { TestSocket, wsUrl } from '../../../src/testing/index.js';
import type { User } from './runs.js';

/** A cluster of real instances for one describe block, with sockets that are closed when it ends. */
export function useCluster(
  size: number,
  env: Record<string, string>,
  startTimeoutMs = 90_000,
): {
  readonly instances: Instance[];
  cluster(): Cluster;
  open(instance: Instance, user: User): Promise<TestSocket>;
  adopt(ws: TestSocket): void;
} {
  let cluster: Cluster | undefined;
  const sockets: TestSocket[] = [];
  beforeAll(async () => {
    cluster = await startCluster(size, env);
  }, startTimeoutMs);
  afterAll(async () => {
    for (const s of sockets) s.close();
    await cluster?.close();
  });
  const started = (): Cluster => {
    if (cluster === undefined) throw new Error('the cluster has not started');
    return cluster;
  };
  return {
    get instances() {
      return started().instances;
    },
    cluster: started,
    /** Closes this socket with the others when the block ends. */
    adopt(ws) {
      sockets.push(ws);
    },
    async open(instance, user) {
      const ws = await TestSocket.open(wsUrl(instance.url), {
        headers: { authorization: `Bearer ${user.accessToken}` },
      });
      sockets.push(ws);
      return ws;
    },
  };
}
