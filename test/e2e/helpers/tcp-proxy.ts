/**
 * A TCP proxy on 127.0.0.1 in front of a real service (Redis), so a test can take the service away from one server
 * and give it back without touching the service itself: `cut()` drops every live connection and stops listening
 * (clients see the connection reset, then connection refused), `restore()` listens again on the same port.
 * `dropWhen()` injects a finer fault: the connection dies the moment the client sends a matching chunk, which is
 * therefore never delivered (a request lost mid-flight while the service otherwise stays reachable).
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  /** The port the proxy listens on (the same after a restore). */
  readonly port: number;
  /** True while the proxy is listening. */
  readonly up: boolean;
  /** Connections accepted since the proxy started (across restores). */
  readonly accepted: number;
  /** `targetUrl` (e.g. TEST_REDIS_URL) pointed at the proxy: same scheme, credentials and path, host 127.0.0.1:<port>. */
  url(targetUrl: string): string;
  /** Destroys every live socket pair and stops listening (a no-op when already cut). */
  cut(): Promise<void>;
  /** Listens again on the same port (a no-op when up). */
  restore(): Promise<void>;
  /**
   * The next client-to-service chunk for which `match` is true is not forwarded: its connection is destroyed
   * instead. Resolves with that chunk (as latin1 text) once it has happened.
   */
  dropWhen(match: (chunk: string) => boolean): Promise<string>;
  /** Cuts for good. */
  close(): Promise<void>;
}

const HOST = '127.0.0.1';

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<{ client: Socket; upstream: Socket }>();
  let server: Server | undefined;
  let accepted = 0;
  let dropRule: { match: (chunk: string) => boolean; dropped: (chunk: string) => void } | undefined;

  const onConnection = (client: Socket): void => {
    // A connection the kernel accepted while cut() was closing the listener is part of the outage.
    if (server === undefined) return void client.destroy();
    accepted += 1;
    const upstream = connect({ host: target.host, port: target.port });
    const pair = { client, upstream };
    pairs.add(pair);
    const end = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    // Client to service by hand (for dropWhen), with backpressure; service to client piped.
    client.on('data', (chunk: Buffer) => {
      const rule = dropRule;
      if (rule !== undefined) {
        const text = chunk.toString('latin1');
        if (rule.match(text)) {
          dropRule = undefined;
          end();
          return rule.dropped(text);
        }
      }
      if (!upstream.write(chunk)) {
        client.pause();
        upstream.once('drain', () => client.resume());
      }
    });
    upstream.pipe(client);
  };

  const listen = (port: number): Promise<Server> =>
    new Promise((resolve, reject) => {
      const s = createServer(onConnection);
      s.once('error', reject);
      s.listen({ host: HOST, port, exclusive: true }, () => {
        s.off('error', reject);
        resolve(s);
      });
    });

  server = await listen(0);
  const port = (server.address() as { port: number }).port;

  const cut = async (): Promise<void> => {
    const s = server;
    server = undefined;
    for (const { client, upstream } of pairs) {
      client.destroy();
      upstream.destroy();
    }
    pairs.clear();
    if (s !== undefined) await new Promise<void>((resolve) => s.close(() => resolve()));
  };

  return {
    port,
    get up() {
      return server !== undefined;
    },
    get accepted() {
      return accepted;
    },
    url(targetUrl: string): string {
      const url = new URL(targetUrl);
      url.hostname = HOST;
      url.port = String(port);
      return url.toString().replace(/\/$/, '');
    },
    cut,
    restore: async () => {
      if (server !== undefined) return;
      server = await listen(port);
    },
    dropWhen: (match) => new Promise((resolve) => (dropRule = { match, dropped: resolve })),
    close: async () => {
      dropRule = undefined;
      await cut();
    },
  };
}
