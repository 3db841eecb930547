import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { dirname } from 'node:path';
import type { Config } from '../config/index.js';

/** What `serve` would stumble on before listening, beyond the settings' own validation. */
export interface Preflight {
  /** `serve` would refuse to start: the same words in both commands. */
  readonly problems: string[];
  /** Worth knowing, not a refusal (a running server legitimately holds its port). */
  readonly warnings: string[];
}

/**
 * Checks against this machine, without creating or writing anything: HOST can be listened on, PORT is free,
 * DATA_DIR can be written (or created) when state lives there, and the AG-UI agent answers (a warning). `serve` runs it before starting and
 * `check-config` runs it too, so a configuration one passes is one the other starts with.
 */
export async function preflight(
  config: Config,
  options: {
    /** Also look for what is only worth a warning (PORT taken, the agent not answering): check-config, not serve. */
    readonly warnings?: boolean;
  } = {},
): Promise<Preflight> {
  const problems: string[] = [];
  const warnings: string[] = [];
  const host = await listenProbe(config.host, 0);
  if (host !== undefined) {
    problems.push(
      `HOST=${config.host} cannot be listened on (${host}): use an address of this machine (127.0.0.1, 0.0.0.0, ::) or a name that resolves to one.`,
    );
  } else if (options.warnings === true && config.port !== 0) {
    const port = await listenProbe(config.host, config.port);
    if (port !== undefined) warnings.push(`PORT=${config.port} on ${config.host} is not free now (${port}).`);
  }
  // SQLite and the development signing key live in DATA_DIR.
  if (config.database === undefined || config.jwt.secretKey === undefined) {
    const unwritable = unwritableReason(config.dataDir);
    if (unwritable !== undefined) {
      problems.push(`DATA_DIR=${config.dataDir} ${unwritable}: point DATA_DIR at a folder this user may write.`);
    }
  }
  // Up to 2 s when the agent's host does not answer: never on serve's way to listening.
  if (options.warnings === true && config.agui !== undefined) {
    const url = new URL(config.agui.url);
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    const unreachable = await connectProbe(url.hostname.replace(/^\[|\]$/g, ''), port);
    // The agent may start after agentgate: a warning, not a refusal.
    if (unreachable !== undefined) warnings.push(`AGENT_URL=${url.origin} cannot be reached now (${unreachable}).`);
  }
  // MCP servers may start after agentgate too: each one that fails now is a warning that names it.
  if (options.warnings === true && config.mcp.servers.length > 0) {
    const { probeServers } = await import('../mcp/index.js');
    for (const result of await probeServers(config.mcp.servers, Math.min(config.mcp.toolTimeoutMs, 15_000)))
      if ('error' in result) warnings.push(`MCP server "${result.name}" failed to start: ${result.error}`);
  }
  return { problems, warnings };
}

/** Undefined when a TCP connection opens within 2 s, else why not. */
function connectProbe(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (why: string | undefined): void => {
      socket.destroy();
      resolve(why);
    };
    socket.setTimeout(2_000, () => done('no answer in 2 s'));
    socket.once('connect', () => done(undefined));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
}

/** Undefined when a server could listen there now, else why not (the error code). */
function listenProbe(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/** Undefined when the folder is writable, or could be created under its nearest existing ancestor. */
function unwritableReason(dir: string): string | undefined {
  let existing = dir;
  while (!existsSync(existing)) {
    const parent = dirname(existing);
    if (parent === existing) break;
    existing = parent;
  }
  if (!statSync(existing).isDirectory()) {
    return existing === dir ? 'is not a folder' : `cannot be created (${existing} is not a folder)`;
  }
  try {
    accessSync(existing, constants.W_OK);
    return undefined;
  } catch {
    return existing === dir ? 'is not writable' : `cannot be created (${existing} is not writable)`;
  }
}
