// How an AG-UI agent behind agentgate checks who a request is for (docs/AGENTS.md). Needs only `jose`.
import { createRemoteJWKSet, jwtVerify } from 'jose';

export interface AgentgateCaller {
  /** The agentgate user the run acts for. */
  readonly userId: string;
  readonly threadId: string;
  readonly runId: string;
}

export function agentTokenVerifier(options: {
  /** e.g. https://chat.example.com/.well-known/jwks.json: fetched once, refetched for an unknown key id. */
  readonly jwksUrl: string;
  /** agentgate's JWT_ISSUER (default `agentgate`). */
  readonly issuer: string;
  /** AGENT_AUDIENCE: by default the origin of AGENT_URL, e.g. https://agent.example.com */
  readonly audience: string;
}): (authorization: string | undefined) => Promise<AgentgateCaller> {
  const keys = createRemoteJWKSet(new URL(options.jwksUrl));
  return async (authorization) => {
    const token = /^Bearer (.+)$/i.exec(authorization ?? '')?.[1];
    if (token === undefined) throw new Error('no agent token');
    const { payload } = await jwtVerify(token, keys, {
      issuer: options.issuer,
      audience: options.audience,
      typ: 'agent+jwt', // never an access token or any other JWT of the same issuer
      algorithms: ['EdDSA', 'ES256'],
      maxTokenAge: '5 minutes',
    });
    const { sub, thread_id: threadId, run_id: runId } = payload;
    if (typeof sub !== 'string' || typeof threadId !== 'string' || typeof runId !== 'string') {
      throw new Error('agent token without sub, thread_id or run_id');
    }
    return { userId: sub, threadId, runId };
  };
}
