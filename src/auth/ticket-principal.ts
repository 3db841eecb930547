import { AppError } from '../errors/index.js';
import type { AuthService, Principal } from './auth-service.js';
import type { Tickets } from './tickets.js';

/**
 * Who a ticket stands for: spends it (single use, whatever happens next), then checks that the session that asked
 * for it is still active. The principal lives no longer than the access token that asked for the ticket.
 */
async function principalOfTicket(
  deps: { readonly tickets: Tickets; readonly auth: AuthService },
  ticket: string,
  nowMs: number,
): Promise<Principal> {
  const record = await deps.tickets.redeem(ticket, nowMs);
  await deps.auth.requireActiveSession(record.sessionId, record.userId);
  return { userId: record.userId, sessionId: record.sessionId, tokenId: 'ticket', expiresAt: record.tokenExpiresAt };
}

/**
 * Spends every ticket a request names and settles only once each is spent, so a quick retry never finds one still
 * valid. Several tickets are refused (`invalid_ticket`), though every one of them is spent. Undefined when there is
 * none: the request authenticates otherwise.
 */
export async function principalOfTickets(
  deps: { readonly tickets: Tickets; readonly auth: AuthService },
  tickets: readonly string[],
  nowMs: number,
): Promise<Principal | undefined> {
  if (tickets.length === 0) return undefined;
  const [only, ...more] = await Promise.allSettled(tickets.map((t) => principalOfTicket(deps, t, nowMs)));
  if (more.length > 0) throw new AppError('invalid_ticket', 'Send one ticket.');
  if (only?.status === 'fulfilled') return only.value;
  throw only?.reason;
}
