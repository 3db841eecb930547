import type { IncomingMessage, ServerResponse } from 'node:http';
import type Provider from 'oidc-provider';
import { interactionPolicy } from 'oidc-provider';

/** The claims an account releases (scope `email`: email and email_verified; `profile`: name). */
export interface AccountClaims {
  readonly email?: string;
  /** Anything, so tests can send the string "true" that must not count as verified. */
  readonly email_verified?: boolean | string;
  readonly name?: string;
}

/** What the interaction reads on every request (the harness's knobs). */
export interface InteractionKnobs {
  readonly nextAccount: string;
  readonly nextInteraction: 'login' | 'refuse';
  /** The harness's own client: it logs in login_hint and is never refused. */
  readonly ownClientId: string;
}

// Log in on every authorization request, even with a provider session: nextAccount and nextInteraction always
// apply. Once this interaction logged someone in (result.login), the check is satisfied and the flow moves on.
export const harnessPolicy = interactionPolicy.base();
harnessPolicy
  .get('login')
  ?.checks.add(
    new interactionPolicy.Check('harness_login', 'the harness logs in on every request', (ctx) =>
      ctx.oidc.result?.login === undefined
        ? interactionPolicy.Check.REQUEST_PROMPT
        : interactionPolicy.Check.NO_NEED_TO_PROMPT,
    ),
  );
/** The interaction "page": logs in, grants what was asked, or refuses. */
export async function interact(
  provider: Provider,
  harness: InteractionKnobs,
  accounts: ReadonlyMap<string, AccountClaims>,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  const clientId = String(details.params.client_id);
  const loginHint = details.params.login_hint;
  const own = clientId === harness.ownClientId;
  if (!own && harness.nextInteraction === 'refuse') {
    const refusal = { error: 'access_denied', error_description: 'the user refused' };
    return provider.interactionFinished(req, res, refusal, { mergeWithLastSubmission: false });
  }
  if (details.prompt.name === 'login') {
    const accountId = own && typeof loginHint === 'string' ? loginHint : harness.nextAccount;
    if (!accounts.has(accountId)) throw new Error(`no account ${accountId}: call setAccount first`);
    return provider.interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false });
  }
  if (details.prompt.name !== 'consent') throw new Error(`unexpected prompt ${details.prompt.name}`);
  const accountId = details.session?.accountId;
  if (accountId === undefined) throw new Error('consent without a session');
  const grant =
    (details.grantId === undefined ? undefined : await provider.Grant.find(details.grantId)) ??
    new provider.Grant({ accountId, clientId });
  const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = details.prompt.details;
  if (Array.isArray(missingOIDCScope)) grant.addOIDCScope(missingOIDCScope.join(' '));
  if (Array.isArray(missingOIDCClaims)) grant.addOIDCClaims(missingOIDCClaims.map(String));
  for (const [indicator, scopes] of Object.entries((missingResourceScopes ?? {}) as Record<string, string[]>))
    grant.addResourceScope(indicator, scopes.join(' '));
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}
