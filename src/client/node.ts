import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { AgentgateClient as UniversalClient } from './client.js';
import type { ClientOptions, HandshakeRefusal, WebSocketLike } from './types.js';

export * from './index.js';

/** Bodies of refused upgrades are small JSON errors; anything longer is not read further. */
const MAX_REFUSAL_BODY = 16 * 1024;

/**
 * The Node client: `ws` as the WebSocket, `auth: 'bearer'` (an Authorization header on the upgrade, the default
 * here) and refused upgrades seen with their HTTP status and error code.
 */
export class AgentgateClient extends UniversalClient {
  constructor(options: ClientOptions) {
    super({ auth: 'bearer', ...options });
  }

  protected override createSocket(
    url: string,
    protocols: string[] | undefined,
    headers: Record<string, string> | undefined,
  ): WebSocketLike {
    if (this.options.WebSocket !== undefined && headers === undefined)
      return super.createSocket(url, protocols, headers);
    return new NodeSocket(url, protocols, headers);
  }
}

/** `ws` plus what a browser cannot give: the status and body of a refused upgrade. */
class NodeSocket extends WebSocket implements WebSocketLike {
  refusal: HandshakeRefusal | undefined;

  constructor(url: string, protocols: string[] | undefined, headers: Record<string, string> | undefined) {
    super(url, protocols, { perMessageDeflate: false, ...(headers === undefined ? {} : { headers }) });
    this.once('unexpected-response', (_req, res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (body.length < MAX_REFUSAL_BODY) body += chunk;
      });
      res.on('end', () => {
        const retryAfter = Number(res.headers['retry-after']);
        this.refusal = {
          status: res.statusCode ?? 0,
          ...codeOf(body),
          ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterSeconds: retryAfter } : {}),
        };
        this.terminate();
      });
      res.on('error', () => this.terminate());
    });
  }
}

function codeOf(body: string): { code?: string } {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === 'object' && parsed !== null && 'error' in parsed) {
      const { error } = parsed;
      if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string')
        return { code: error.code };
    }
  } catch {
    // Not JSON: the status alone says enough.
  }
  return {};
}
