import type { IncomingMessage } from 'node:http';
import {
  parseBearerHeader,
  principalOfTickets,
  type AttemptLimiter,
  type AuthService,
  type Principal,
  type Tickets,
} from '../auth/index.js';
import { AppError, isAppError } from '../errors/index.js';
import { BEARER_SUBPROTOCOL_PREFIX } from '../protocol/index.js';
import { HandshakeRefusal, checkHandshake } from './handshake.js';

/** Query parameters that would put a bearer token in a URL (logs, history, Referer): refused outright. */
const TOKEN_IN_URL_PARAMS = ['token', 'access_token', 'accessToken', 'jwt', 'bearer', 'authorization', 'refresh_token'];

export interface UpgradeAuthDeps {
  readonly auth: AuthService;
  readonly tickets: Tickets;
  /** Upgrade attempts per client IP. */
  readonly handshakeLimiter: AttemptLimiter;
  readonly isOriginAllowed: (origin: string) => boolean;
  /** The client's address for the per-IP handshake limit (X-Forwarded-For through trusted proxies only). */
  readonly clientAddress: (req: IncomingMessage) => string;
  readonly now: () => number;
}

/**
 * Decides a WebSocket upgrade before any socket exists. Order: spend the ticket (any attempt spends it), check the
 * handshake (400/426), the handshake rate of the IP (429), the Origin (403), then the credential (401, or 503 when
 * auth storage is down).
 * Credential preference: ?ticket, then Authorization: Bearer, then the `bearer.<jwt>` subprotocol; a present but
 * invalid ticket fails even when a header would have been valid.
 */
export async function authenticateUpgrade(req: IncomingMessage, url: URL, deps: UpgradeAuthDeps): Promise<Principal> {
  // Every ticket in the URL is spent by this attempt, even a repeated one that makes the request invalid, and the
  // answer waits until each is spent: a quick retry must never find one still valid.
  const spent = principalOfTickets(deps, url.searchParams.getAll('ticket'), deps.now());
  spent.catch(() => {});
  try {
    return await decide(req, url, deps, spent);
  } finally {
    await spent.catch(() => undefined);
  }
}

async function decide(
  req: IncomingMessage,
  url: URL,
  deps: UpgradeAuthDeps,
  spent: Promise<Principal | undefined>,
): Promise<Principal> {
  checkHandshake(req);
  try {
    await deps.handshakeLimiter.consume(deps.clientAddress(req));
  } catch (err) {
    if (isAppError(err)) throw HandshakeRefusal.from(err);
    throw err;
  }
  const origin = req.headers.origin;
  if (origin !== undefined && !deps.isOriginAllowed(origin)) {
    throw new HandshakeRefusal(403, 'origin_not_allowed', 'This Origin may not open WebSockets here.');
  }
  if (TOKEN_IN_URL_PARAMS.some((p) => url.searchParams.has(p))) {
    throw unauthorized(
      'invalid_token',
      'Access tokens are never accepted in a URL: use a ticket, the Authorization header or the subprotocol.',
    );
  }
  try {
    const ticketHolder = await spent;
    if (ticketHolder !== undefined) return ticketHolder;
    const bearer = bearerFrom(req);
    if (bearer === undefined)
      throw new AppError(
        'unauthorized',
        'Authenticate with ?ticket=, Authorization: Bearer, or the bearer.<token> subprotocol.',
      );
    return await deps.auth.authenticate(bearer);
  } catch (err) {
    if (!isAppError(err)) throw err;
    if (err.code === 'service_unavailable') throw new HandshakeRefusal(503, err.code, err.message);
    throw unauthorized(err.code, err.message);
  }
}

function bearerFrom(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (header !== undefined) return parseBearerHeader(header);
  const protocols = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
  const carrier = protocols.find((p) => p.startsWith(BEARER_SUBPROTOCOL_PREFIX));
  return carrier?.slice(BEARER_SUBPROTOCOL_PREFIX.length);
}

function unauthorized(code: AppError['code'], message: string): HandshakeRefusal {
  return new HandshakeRefusal(401, code, message);
}
