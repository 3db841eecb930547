import type { IncomingMessage } from 'node:http';
import proxyaddr from '@fastify/proxy-addr';
import type { Config } from '../config/index.js';

/** Whether the hop `i` away from the server, at `address`, is a proxy trusted to say who its client is. */
export type TrustProxy = (address: string, i: number) => boolean;

/** TRUST_PROXY as one function, for Fastify's `trustProxy` and for the WebSocket upgrade alike. */
export function trustProxyOf(setting: Config['trustProxy']): TrustProxy {
  if (setting === false) return () => false;
  if (typeof setting === 'number') return (_address, i) => i < setting;
  return proxyaddr.compile([...setting]);
}

/** The client's address: the socket's, or the first untrusted one in X-Forwarded-For behind trusted proxies. */
export function clientAddressOf(req: IncomingMessage, trust: TrustProxy): string {
  return proxyaddr(req, trust);
}
