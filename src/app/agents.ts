import type { Logger } from 'pino';
import { AguiAgent, createLlmAgent, OfflineAgent, type Agent, type TokenUsageStore } from '../agents/index.js';
import { AgentTokens } from '../auth/index.js';
import type { Config } from '../config/index.js';
import type { JWK } from 'jose';
import type { Tracing } from '../telemetry/index.js';

/** The agent LLM_PROVIDER names, and the public keys it adds to the JWKS (an AG-UI agent's token key). */
export async function chooseAgent(
  config: Config,
  deps: {
    readonly usage: TokenUsageStore;
    readonly logger: Logger;
    readonly now: () => number;
    readonly tracing: Tracing;
  },
): Promise<{ readonly agent: Agent; readonly publicKeys: readonly JWK[] }> {
  const { provider } = config.llm;
  if (provider === 'offline') return { agent: new OfflineAgent(), publicKeys: [] };
  if (provider === 'agui') {
    if (config.agui === undefined) throw new Error('LLM_PROVIDER=agui needs AGENT_URL.');
    const tokens = await AgentTokens.load({
      pem: config.agui.signingKeyPem,
      dataDir: config.dataDir,
      issuer: config.jwt.issuer,
      audience: config.agui.audience,
    });
    const agent = new AguiAgent(config.agui, {
      signToken: (subject) => tokens.sign(subject, Math.floor(deps.now() / 1000)),
    });
    await agent.load();
    return { agent, publicKeys: [tokens.jwk] };
  }
  // Token usage is counted in the durable store, so budgets hold across instances.
  const llm = await createLlmAgent(
    { ...config.llm, provider },
    { usage: deps.usage, logger: deps.logger.child({ component: 'llm' }), now: deps.now, tracing: deps.tracing },
  );
  return { agent: llm, publicKeys: [] };
}
