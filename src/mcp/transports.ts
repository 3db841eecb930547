import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { FetchLike, Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { McpServerConfig } from '../config/index.js';
import { StdioProcessTransport } from './stdio-transport.js';

/** Where a server keeps its files: `DATA_DIR/mcp/<name>/<userId>` for a user's own process. */
export function serverDir(dataDir: string, server: string, owner: string): string {
  return join(dataDir, 'mcp', server, owner);
}

export interface TransportOptions {
  /** The process's working directory and `${userDir}`; created if missing. */
  readonly dir: string;
  readonly onStderr: (line: string) => void;
  /** Adds the caller's identity to each HTTP request (forwardIdentity). */
  readonly fetch?: FetchLike | undefined;
}

/** A fresh transport for one session with the server (a new process, for stdio). */
export function transportFor(config: McpServerConfig, options: TransportOptions): Transport {
  if (config.transport === 'http') {
    return new StreamableHTTPClientTransport(new URL(config.url), {
      requestInit: { headers: { ...config.headers } },
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    });
  }
  mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  const substitute = (value: string): string => value.replaceAll('${userDir}', options.dir);
  // CONTRACT: PATH, HOME and the entry's env, never agentgate's own environment (keys, database URLs).
  const inherited: Record<string, string> = {};
  for (const name of ['PATH', 'HOME'] as const) {
    const value = process.env[name];
    if (value !== undefined) inherited[name] = value;
  }
  const env = Object.fromEntries(Object.entries(config.env).map(([k, v]) => [k, substitute(v)]));
  return new StdioProcessTransport({
    command: config.command,
    args: config.args.map(substitute),
    env: { ...inherited, ...env },
    cwd: options.dir,
    onStderr: options.onStderr,
  });
}
