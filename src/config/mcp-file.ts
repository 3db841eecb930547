import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** An MCP server agentgate starts itself and talks to over stdin/stdout. */
export interface StdioServerConfig {
  readonly name: string;
  readonly transport: 'stdio';
  readonly command: string;
  readonly args: readonly string[];
  /** Secret: the only variables the process gets besides PATH and HOME. Never logged. */
  readonly env: Readonly<Record<string, string>>;
  /** `user`: one process per user, in its own directory; `shared`: one process for everyone. */
  readonly scope: 'shared' | 'user';
  readonly requireApproval: boolean;
}

/** An MCP server reached over Streamable HTTP. */
export interface HttpServerConfig {
  readonly name: string;
  readonly transport: 'http';
  readonly url: string;
  /** Secret: sent with every request. Never logged. */
  readonly headers: Readonly<Record<string, string>>;
  /** Sends the user's agent token as `Authorization: Bearer` (one connection per user). */
  readonly forwardIdentity: boolean;
  readonly requireApproval: boolean;
}

export type McpServerConfig = StdioServerConfig | HttpServerConfig;

/** CONTRACT: server names are what tool names are built from (`<name>__<tool>`). */
const SERVER_NAME = /^[A-Za-z0-9_-]{1,32}$/;

const common = {
  requireApproval: z.boolean().default(false),
  // Editors' files carry these; they mean nothing here and must not refuse a file copied from one.
  type: z.string().optional(),
  disabled: z.boolean().optional(),
};
const stringMap = z.record(z.string(), z.string());

const StdioEntry = z.looseObject({
  ...common,
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  env: stringMap.default({}),
  scope: z.enum(['shared', 'user']).default('shared'),
});
const HttpEntry = z.looseObject({
  ...common,
  url: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }),
  headers: stringMap.default({}),
  forwardIdentity: z.boolean().default(false),
});

const McpFile = z.object({ mcpServers: z.record(z.string(), z.looseObject({})) });

/**
 * Reads MCP_CONFIG (the `mcpServers` format MCP clients share) into server configs, or the problems that refuse
 * start-up, each naming the server and field. Problems never quote `env` or `headers` values: they hold secrets.
 */
export function readMcpFile(path: string): { servers: McpServerConfig[]; problems: string[] } {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    return { servers: [], problems: [`MCP_CONFIG=${path} could not be read as JSON: ${(err as Error).message}`] };
  }
  const file = McpFile.safeParse(json);
  if (!file.success)
    return { servers: [], problems: [`MCP_CONFIG=${path} must hold {"mcpServers": {"<name>": {...}}}.`] };
  const servers: McpServerConfig[] = [];
  const problems: string[] = [];
  for (const [name, entry] of Object.entries(file.data.mcpServers)) {
    const where = `MCP_CONFIG server "${name}"`;
    if (!SERVER_NAME.test(name)) {
      problems.push(`${where}: the name must be 1-32 letters, digits, _ or - (tool names are <name>__<tool>).`);
      continue;
    }
    if (entry.disabled === true) continue;
    const parsed = parseEntry(name, entry);
    if (typeof parsed === 'string') problems.push(`${where}: ${parsed}`);
    else servers.push(parsed);
  }
  return { servers, problems };
}

function parseEntry(name: string, entry: Record<string, unknown>): McpServerConfig | string {
  const hasCommand = 'command' in entry;
  const hasUrl = 'url' in entry;
  if (hasCommand === hasUrl) return 'give either "command" (stdio) or "url" (Streamable HTTP), not both.';
  if (entry.type === 'sse') return "the SSE transport is not supported: use the server's Streamable HTTP URL.";
  if (hasCommand) {
    if ('forwardIdentity' in entry) return '"forwardIdentity" applies to "url" servers only.';
    const parsed = StdioEntry.safeParse(entry);
    if (!parsed.success) return describe(parsed.error);
    const { command, args, env, scope, requireApproval } = parsed.data;
    return { name, transport: 'stdio', command, args, env, scope, requireApproval };
  }
  if ('scope' in entry && entry.scope !== 'shared')
    return '"scope": "user" applies to stdio servers only (use "forwardIdentity" to tell a URL server who calls).';
  const parsed = HttpEntry.safeParse(entry);
  if (!parsed.success) return describe(parsed.error);
  const { url, headers, forwardIdentity, requireApproval } = parsed.data;
  return { name, transport: 'http', url, headers, forwardIdentity, requireApproval };
}

/** Field paths and messages only: zod's input echo could carry a secret from `env` or `headers`. */
function describe(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.map(String).join('.') || '(entry)'}: ${i.message}`).join('; ');
}
