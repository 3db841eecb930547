import type { Logger } from 'pino';
import type { JWK } from 'jose';
import { ToolRegistry, type Tool } from '../agents/index.js';
import { AgentTokens } from '../auth/index.js';
import type { Config } from '../config/index.js';
import type { McpToolbox } from '../mcp/index.js';
import { toolPatterns } from '../runs/index.js';
import type { Tracing } from '../telemetry/index.js';

/** How long start-up waits for MCP servers; slower ones keep starting in the background. */
const MCP_START_WAIT_MS = 15_000;

export interface AppTools {
  readonly registry: ToolRegistry;
  /** Whether a tool waits for its user's approval. */
  readonly requiresApproval: (tool: string) => boolean;
  readonly mcp: McpToolbox | undefined;
  /** The key forwardIdentity tokens are signed with, for the JWKS. */
  readonly publicKeys: readonly JWK[];
}

/** The built-in tools and the MCP servers of MCP_CONFIG, started (a server that fails is retried, never fatal). */
export async function openTools(
  config: Config,
  builtin: readonly Tool[],
  deps: { readonly logger: Logger; readonly now: () => number; readonly tracing: Tracing },
): Promise<AppTools> {
  const { servers } = config.mcp;
  const traced = { tracing: deps.tracing };
  const patterns = toolPatterns(config.approvals.tools);
  if (servers.length === 0)
    return {
      registry: new ToolRegistry(builtin, [], traced),
      requiresApproval: patterns,
      mcp: undefined,
      publicKeys: [],
    };

  const forwarding = servers.some((s) => s.transport === 'http' && s.forwardIdentity);
  // The same key as an AG-UI agent's tokens (AGENT_SIGNING_KEY, or the one kept in DATA_DIR).
  const tokens = forwarding
    ? await AgentTokens.load({
        pem: config.agentSigningKeyPem,
        dataDir: config.dataDir,
        issuer: config.jwt.issuer,
        audience: config.jwt.audience,
      })
    : undefined;
  // Loaded only when MCP_CONFIG lists servers: the MCP SDK takes about half a second to load.
  const { McpToolbox } = await import('../mcp/index.js');
  const mcp = new McpToolbox(servers, {
    dataDir: config.dataDir,
    toolTimeoutMs: config.mcp.toolTimeoutMs,
    userIdleMs: config.mcp.userIdleMs,
    maxProcesses: config.mcp.maxProcesses,
    logger: deps.logger.child({ component: 'mcp' }),
    signIdentity:
      tokens === undefined
        ? undefined
        : (subject, audience) => tokens.sign(subject, Math.floor(deps.now() / 1000), audience),
  });
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([mcp.start(), new Promise((r) => (timer = setTimeout(r, MCP_START_WAIT_MS)))]);
  clearTimeout(timer);
  const serverPatterns = toolPatterns(mcp.approvalPatterns());
  return {
    registry: new ToolRegistry(builtin, [mcp], traced),
    requiresApproval: (tool) => patterns(tool) || serverPatterns(tool),
    mcp,
    publicKeys: tokens === undefined ? [] : [tokens.jwk],
  };
}
