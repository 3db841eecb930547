import type { AuthService, Principal } from './auth-service.js';
import type { Tickets } from './tickets.js';

/**
 * Who a ticket stands for: spends it (single use, whatever happens next), then checks that the session that asked
 * for it is still active. The principal lives no longer than the access token that asked for the ticket.
 */
export async function principalOfTicket(
  deps: { readonly tickets: Tickets; readonly auth: AuthService },
  ticket: string,
  nowMs: number,
): Promise<Principal> {
  const record = await deps.tickets.redeem(ticket, nowMs);
  await deps.auth.requireActiveSession(record.sessionId, record.userId);
  return { userId: record.userId, sessionId: record.sessionId, tokenId: 'ticket', expiresAt: record.tokenExpiresAt };
}
